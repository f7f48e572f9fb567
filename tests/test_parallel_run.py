"""The template tests' own parallel run (xdist, tests/conftest.py): a test that shares
the machine's servers or its Docker engine runs in that resource's serial group;
what is built once for the run is built once, whatever the number of workers; a
render of the working tree is made once per answers and folder name."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import MACHINE_FIXTURES, MACHINE_GROUP, SLOW_GROUP
from rendering import REPO_ROOT, render, rendered_files, use_render_cache
from shared_run import MachineHold

ANSWERS_FILE = ".copier-answers.integration-tests.yml"
# Several processes ask at once; each records that it asked, the build that it ran.
BUILD_RACE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from shared_run import once_per_run

root = Path(sys.argv[1])

def build(folder: Path) -> Path:
    with open(root / "builds.log", "a") as log:
        log.write("built\\n")
    time.sleep(0.5)  # long enough for the others to be waiting
    folder.mkdir()
    return folder

print(once_per_run(root, "thing", build))
"""


# Reports, for every test the template's suite collects, in the order it runs them:
# its fixtures, its groups, whether it is slow and alone.
GROUPS_REPORT = """
import json

def pytest_collection_finish(session):
    print("GROUPS " + json.dumps({
        item.nodeid: [
            sorted(getattr(item, "fixturenames", ())),
            [str(mark.args[0]) for mark in item.iter_markers("xdist_group")],
            item.get_closest_marker("slow") is not None,
            item.get_closest_marker("alone") is not None,
        ]
        for item in session.items
    }))
"""


@dataclass(frozen=True)
class Collected:
    fixtures: set[str]
    groups: list[str]
    slow: bool
    alone: bool


def collected_groups(plugins: Path) -> dict[str, Collected]:
    """Each test of this suite, in the order it runs them, as collected."""
    (plugins / "groups_report.py").write_text(GROUPS_REPORT)
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0",
         "-p", "groups_report", "tests"],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(plugins)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    line = next((x for x in collected.stdout.splitlines() if x.startswith("GROUPS ")), None)
    assert line is not None, collected.stdout[-3000:] + collected.stderr[-3000:]
    report = json.loads(line.removeprefix("GROUPS "))
    return {
        nodeid: Collected(set(fixtures), groups, slow, alone)
        for nodeid, (fixtures, groups, slow, alone) in report.items()
    }


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Collected]:
    """The whole suite, collected once for the tests below (a minute on a busy machine)."""
    return collected_groups(tmp_path_factory.mktemp("groups"))


def test_every_test_on_a_shared_resource_runs_in_a_serial_group(
    collected: dict[str, Collected],
) -> None:
    tests = collected
    assert len(tests) > 100, "the whole suite was collected"
    ungrouped = [
        nodeid for nodeid, test in tests.items()
        if (test.slow or MACHINE_FIXTURES & test.fixtures) and not test.groups
    ]  # fmt: skip
    assert ungrouped == []
    # A slow module's tests one after another (its group), the modules beside each other.
    for nodeid, test in tests.items():
        if test.slow:
            module = nodeid.split("::")[0].removeprefix("tests/").removesuffix(".py")
            assert test.groups == [SLOW_GROUP.format(module=module)], nodeid
    # A fast test on the machine (doctor.py's, the janitor's) in the machine's group.
    doctor = {
        test.groups[0]
        for nodeid, test in tests.items()
        if "test_doctor" in nodeid and MACHINE_FIXTURES & test.fixtures
    }
    assert doctor == {MACHINE_GROUP}


def test_a_modules_tests_alone_run_before_its_others(collected: dict[str, Collected]) -> None:
    """One wait for the machine per module, not one per test alone."""
    modules: dict[str, list[bool]] = {}
    for nodeid, test in collected.items():
        modules.setdefault(nodeid.split("::")[0], []).append(test.alone)
    faults = modules["tests/test_fault_battery.py"]
    assert True in faults
    assert False in faults
    for module, alone in modules.items():
        assert alone == sorted(alone, reverse=True), module


def test_a_build_asked_for_by_several_processes_at_once_runs_once(tmp_path: Path) -> None:
    script = tmp_path / "race.py"
    script.write_text(BUILD_RACE)
    tests = str(Path(__file__).parent)
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), tests], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    results = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert [racer.returncode for racer in racers] == [0, 0, 0]
    assert results == {str(tmp_path / "thing")}
    assert (tmp_path / "builds.log").read_text() == "built\n"


def head(repository: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout


def test_a_render_is_made_once_per_answers_and_folder_name(tmp_path: Path) -> None:
    sessions = use_render_cache(tmp_path / "cache")
    try:
        first = render(tmp_path / "one" / "shop", services=["redis"])
        again = render(tmp_path / "two" / "shop", services=["redis"])
        other = render(tmp_path / "three" / "depot", services=["redis"])
    finally:
        use_render_cache(sessions)
    assert rendered_files(again) == rendered_files(first)
    # A copy of the first render, its commit included (a second render commits
    # seconds later: another hash), and a repository of its own with nothing pending.
    assert head(again) == head(first)
    assert git_status(again) == ""
    assert len(list((tmp_path / "cache").glob("*/shop"))) == 1
    # The folder's name is the default project_name: another name, another render.
    assert yaml.safe_load((other / ANSWERS_FILE).read_text())["project_name"] == "depot"
    assert head(other) != head(first)


def git_status(repository: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=repository, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip


# Holds the machine shared or alone; logs when it asked, held and let go. The first
# holders keep it until the test lets them go (a file), the others for a moment.
HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from shared_run import machine_share

root, how, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

def log(what: str) -> None:
    with open(root / "held.log", "a") as out:
        out.write(f"{name} {what} {time.monotonic()}\\n")

log("asked")
with machine_share(root, alone=how == "alone"):
    log("held")
    deadline = time.monotonic() + 30
    while name.startswith("first") and not (root / "go").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    log("let-go")
"""


def events(log: Path) -> dict[tuple[str, str], float]:
    lines = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
    return {(name, what): float(at) for name, what, at in lines}


def test_a_test_alone_runs_while_no_other_test_runs(tmp_path: Path) -> None:
    script, log = tmp_path / "holder.py", tmp_path / "held.log"
    script.write_text(HOLDER)
    tests = str(Path(__file__).parent)
    holders: list[subprocess.Popen[bytes]] = []

    def hold(how: str, name: str, then: tuple[str, str]) -> None:
        holders.append(
            subprocess.Popen([sys.executable, str(script), str(tmp_path), how, name, tests])
        )
        deadline = time.monotonic() + 30
        while then not in events(log):
            assert time.monotonic() < deadline, (then, events(log))
            time.sleep(0.02)

    hold("shared", "first-1", then=("first-1", "held"))
    hold("shared", "first-2", then=("first-2", "held"))
    hold("alone", "alone", then=("alone", "asked"))
    time.sleep(0.5)  # from its log line to its wait for the lock
    hold("shared", "later-1", then=("later-1", "asked"))
    hold("shared", "later-2", then=("later-2", "asked"))
    time.sleep(0.5)
    # The first two hold it together; the lone one and those behind it wait.
    waiting = {name for name in ("alone", "later-1", "later-2") if (name, "held") in events(log)}
    assert waiting == set()
    (tmp_path / "go").touch()
    assert [holder.wait(timeout=60) for holder in holders] == [0] * 5
    at = events(log)
    assert at["alone", "held"] >= max(at["first-1", "let-go"], at["first-2", "let-go"])
    assert at["alone", "let-go"] <= min(at["later-1", "held"], at["later-2", "held"])


def shared_hold_possible(root: Path) -> bool:
    """Whether another test could take the machine shared now (a lock of its own)."""
    with (root / "machine.lock").open("a") as other:
        try:
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True


def test_tests_alone_one_after_another_keep_the_machine_between_them(tmp_path: Path) -> None:
    hold = MachineHold(tmp_path)
    hold.take(alone=True)
    assert not shared_hold_possible(tmp_path)
    hold.let_go(keep_alone=True)  # the next test is alone too
    assert not shared_hold_possible(tmp_path)  # nobody slips in between
    hold.take(alone=True)
    hold.let_go(keep_alone=False)  # the last of them
    assert shared_hold_possible(tmp_path)
    hold.take(alone=False)
    assert shared_hold_possible(tmp_path)  # shared with the others
    hold.let_go(keep_alone=False)
