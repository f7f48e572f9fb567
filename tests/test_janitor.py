"""The janitor after its run has ended: it removes what a dead run left, and after a run
that released everything itself it does nothing at all (no Docker client is loaded).
An owner that finished hands its state folder over: the janitor removes it once it
has removed the run's servers; an owner that died leaves it to the next run's sweep.

The janitor runs as a script; a `docker` package placed first on its path records
that it was imported and then stands aside as if the SDK were missing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from rendering import REPO_ROOT, SUITE_TEMPLATE, render

JANITOR = REPO_ROOT / SUITE_TEMPLATE / "harness" / "janitor.py"
RECORDING_DOCKER = """
import os
with open(os.environ["DOCKER_IMPORTED"], "a") as record:
    record.write("imported\\n")
raise ImportError("the Docker SDK stands aside in this test")
"""


@pytest.fixture
def ended_run(tmp_path: Path) -> Path:
    """The state folder of a run whose owner process has exited."""
    owner = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    state = tmp_path / "runs" / "0123456789ab"
    state.mkdir(parents=True)
    (state / "owner.pid").write_text(owner.stdout.strip())
    (state / "janitor.started").touch()
    return state


def run_janitor(state: Path, tmp_path: Path) -> list[str]:
    """Run the janitor on `state` to its end; what imported the Docker SDK."""
    fake = tmp_path / "fake-sdk" / "docker"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(RECORDING_DOCKER)
    record = tmp_path / "docker-imported.txt"
    subprocess.run(
        [sys.executable, str(JANITOR), str(state)],
        env={"PYTHONPATH": str(fake.parent), "DOCKER_IMPORTED": str(record)},
        check=True,
        timeout=60,
    )
    return record.read_text().splitlines() if record.exists() else []


def test_after_a_run_that_released_everything_the_janitor_does_nothing(
    ended_run: Path, tmp_path: Path
) -> None:
    marker = ended_run.with_name(ended_run.name + ".released")
    marker.touch()

    assert run_janitor(ended_run, tmp_path) == []
    assert not marker.exists()  # used up


def test_a_run_over_before_its_janitor_started_leaves_no_marker(
    ended_run: Path, tmp_path: Path
) -> None:
    # The owner released everything and removed its folder before the janitor read it.
    marker = ended_run.with_name(ended_run.name + ".released")
    marker.touch()
    shutil.rmtree(ended_run)

    assert run_janitor(ended_run, tmp_path) == []
    assert not marker.exists()


def test_after_a_run_that_did_not_release_the_janitor_cleans_up(
    ended_run: Path, tmp_path: Path
) -> None:
    # Killed, interrupted, or a clean-up step failed: no marker.
    (ended_run / "providers.txt").write_text("testcontainers\n")

    assert run_janitor(ended_run, tmp_path) == ["imported", "imported"]


def test_a_run_without_containers_leaves_docker_alone(ended_run: Path, tmp_path: Path) -> None:
    # Docker may not run at all where the embedded provider is used.
    (ended_run / "providers.txt").write_text("embedded\nexternal\n")

    assert run_janitor(ended_run, tmp_path) == []


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """A stand-in embedded server: a process, its pid file and the record of both."""
    directory = tmp_path / "it-embedded-redis-0123456789ab-x"
    directory.mkdir()
    process = subprocess.Popen(["sleep", "120"])
    (directory / "server.pid").write_text(str(process.pid))
    record = {"pidfile": str(directory / "server.pid"), "signal": int(signal.SIGTERM)}
    (directory / "server.json").write_text(json.dumps(record))
    yield directory, process
    process.kill()
    process.wait()


@pytest.mark.parametrize("owner_finished", [True, False])
def test_a_server_the_run_started_at_its_very_end_is_stopped(
    ended_run: Path,
    tmp_path: Path,
    server: tuple[Path, subprocess.Popen[bytes]],
    owner_finished: bool,
) -> None:
    # Recorded just before the owner ended (a fixture asked for redis last): the
    # janitor never saw it while waiting, and reads it from the folder afterwards.
    directory, process = server
    (ended_run / "providers.txt").write_text("embedded\n")
    (ended_run / "embedded.txt").write_text(f"{directory}\n")
    if owner_finished:
        (ended_run / "finished").touch()  # RunState.finish after Ctrl-C

    run_janitor(ended_run, tmp_path)

    assert process.wait(timeout=5) == -signal.SIGTERM
    assert not directory.exists()
    # A finished owner's folder goes; a dead owner's stays for the next run's sweep.
    assert ended_run.exists() is not owner_finished


FINISH = """
import json
import sys
from tests.integration.harness.janitor import released_marker
from tests.integration.harness.run_state import RunState

run = RunState(sys.argv[1], "main", is_owner=True)
run.directory.mkdir(parents=True)
(run.directory / "janitor.started").touch()
if sys.argv[2] == "released":
    released_marker(run.directory).touch()
run.finish()
print(json.dumps(sorted(path.name for path in run.directory.glob("*"))))
"""


@pytest.mark.parametrize("owner", ["released", "left servers to the janitor"])
def test_the_owner_keeps_its_folder_for_the_janitor_until_it_is_done(
    tmp_path: Path, suite_python: Path, owner: str
) -> None:
    project = render(tmp_path / "shop", services=["redis"])
    run_id = uuid.uuid4().hex[:12]
    finished = subprocess.run(
        [str(suite_python), "-c", FINISH, run_id, owner.split()[0]],
        cwd=project, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    state = Path(tempfile.gettempdir()) / f"integration-runs-of-{os.getuid()}" / run_id
    try:
        if owner == "released":
            # Everything released by the owner itself: nothing left to hand over.
            assert not state.exists(), finished.stdout
        else:
            # Read once the owner is gone, with the records of its very last moment.
            assert json.loads(finished.stdout) == ["finished", "janitor.started"]
    finally:
        shutil.rmtree(state, ignore_errors=True)
        state.with_name(run_id + ".released").unlink(missing_ok=True)


def test_where_no_docker_engine_answers_the_rest_is_cleaned_up(
    ended_run: Path, suite_python: Path, server: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    # The sweep calls the same code in a later run, which may have no Docker at all.
    directory, process = server
    (ended_run / "providers.txt").write_text("testcontainers\nembedded\n")
    (ended_run / "embedded.txt").write_text(f"{directory}\n")

    janitor = subprocess.run(
        [str(suite_python), str(JANITOR), str(ended_run)],
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert (janitor.returncode, janitor.stderr) == (0, "")
    assert process.wait(timeout=5) == -signal.SIGTERM
    assert not directory.exists()
