"""Ctrl-C, once or twice, while services start and while tests run: the run ends at
once, and nothing it started or made is left (containers, networks, databases, its
state folder, its janitor), whatever the moment. SIGINT goes to the whole process
group, as a terminal sends it (xdist workers, compose, servers included)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import docker
import pytest
from container_census import ContainerCensus
from generated_suite import clean_environment
from interruption import interrupt_run, wait_for, waiting_test_started
from rendering import render
from server_state import postgres_databases, run_state_folders

# Docker's group, although it also reads the machine's PostgreSQL (its own databases
# only): it counts containers and networks while it interrupts runs.
pytestmark = [pytest.mark.slow, pytest.mark.docker]

PROJECT = "ctrlc"
# pytest itself formats the KeyboardInterrupt and xdist stops its workers: a second
# or two on a quiet machine. The bound leaves room for a busy one.
EXIT_SECONDS = 5
# The janitor removes what in-flight starts created within a few seconds.
GONE_SECONDS = 30


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("ctrlc") / PROJECT,
        project_name=PROJECT,
        services=["postgres", "redis"],
        include_samples=False,
    )


def our_containers() -> list[str]:
    client = docker.from_env()
    try:
        # The low-level list: containers.list() inspects each container it lists, and
        # one removed in between (the janitor's work, during a Ctrl-C) raised NotFound.
        listed: list[dict[str, Any]] = client.api.containers(all=True)
        return [
            str((container.get("Names") or [""])[0]).lstrip("/")
            for container in listed
            if (labels := container.get("Labels") or {}).get(
                "io.github.copier-integration-tests.project"
            )
            == PROJECT
            or str(labels.get("com.docker.compose.project", "")).startswith(f"it-{PROJECT}-")
        ]
    finally:
        client.close()


def janitors() -> list[str]:
    # -ww: without a terminal, ps cuts each line at 80 columns, before the script.
    listed = subprocess.run(["ps", "-ww", "-eo", "args="], capture_output=True, text=True).stdout
    return [
        line for line in listed.splitlines() if "harness/janitor.py" in line and PROJECT in line
    ]


CASES = [
    ("testcontainers", "during startup", 1),
    ("testcontainers", "during startup", 2),
    ("testcontainers", "during tests", 1),
    ("testcontainers", "during tests", 2),
    ("compose", "during startup", 1),
    ("compose", "during tests", 1),
]


# Alone: a bound of seconds from Ctrl-C to the end of the run, which other tests' load
# stretched (21 s and 31 s with three workers on a loaded 2-core machine).
@pytest.mark.alone
@pytest.mark.parametrize(
    ("provider", "phase", "presses"),
    CASES,
    ids=[f"{p}-{phase.split()[1]}-{n}x" for p, phase, n in CASES],
)
def test_ctrl_c_ends_the_run_and_leaves_nothing(
    project: Path,
    suite_python: Path,
    images: dict[str, str],
    native_urls: dict[str, str],
    provider: str,
    phase: str,
    presses: int,
) -> None:
    folders = set(run_state_folders(PROJECT))
    env = clean_environment(IT_PROVIDER=provider, **images)
    with ContainerCensus(list(images.values()), project=project) as census:

        def services_starting() -> bool:
            return bool(our_containers())

        when = waiting_test_started(project) if phase == "during tests" else services_starting
        result = interrupt_run(
            project, suite_python, env, when=when, needs="db_session redis_client",
            presses=presses,
        )  # fmt: skip
        assert result.returncode != 0, result.output
        assert "KeyboardInterrupt" in result.output, result.output[-3000:]
        assert result.seconds_to_exit < EXIT_SECONDS, (result.seconds_to_exit, result.output)
        wait_for(lambda: not our_containers(), GONE_SECONDS, f"removal:\n{result.output}")
        wait_for(lambda: not janitors(), GONE_SECONDS, "the janitor to finish")
    assert census.new_networks(f"it-{PROJECT}-") == []
    assert set(run_state_folders(PROJECT)) <= folders
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], f"test_{PROJECT}_") == set()


def test_a_killed_run_is_cleaned_up_by_its_janitor(
    project: Path, suite_python: Path, images: dict[str, str]
) -> None:
    """kill -9 of the whole process group: nobody runs a clean-up hook."""
    import os
    import signal

    env = clean_environment(IT_PROVIDER="testcontainers", **images)
    started = project / ".started"
    waiting = project / "tests/integration/test_waits.py"
    waiting.write_text(
        "import os, time\nfrom pathlib import Path\n\n"
        "def test_waits(db_session, redis_client):\n"
        "    Path(os.environ['STARTED_FILE']).write_text('x')\n    time.sleep(120)\n"
    )
    try:
        process = subprocess.Popen(
            [str(suite_python), "-m", "pytest", "-p", "no:randomly", "-n", "2",
             "tests/integration/test_waits.py"],
            cwd=project, env={**env, "STARTED_FILE": str(started)},
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(started.exists, 120, "the test to start")
        assert our_containers()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        wait_for(lambda: not our_containers(), GONE_SECONDS, "the janitor's clean-up")
    finally:
        waiting.unlink()
        started.unlink(missing_ok=True)
