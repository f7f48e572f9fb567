"""The janitor after its run has ended: it removes what a dead run left, and after a run
that released everything itself it does nothing at all (no Docker client is loaded).

The janitor runs as a script; a `docker` package placed first on its path records
that it was imported and then stands aside as if the SDK were missing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rendering import REPO_ROOT, SUITE_TEMPLATE

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


def test_after_a_run_that_did_not_release_the_janitor_cleans_up(
    ended_run: Path, tmp_path: Path
) -> None:
    # Killed, interrupted, or a clean-up step failed: no marker.
    assert run_janitor(ended_run, tmp_path) == ["imported", "imported"]
