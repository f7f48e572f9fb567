"""Ctrl-C in a terminal, reproduced: SIGINT to the whole process group of a pytest run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generated_suite import sigint_as_in_a_terminal

WAITS_FOR_INTERRUPT = """
import os
import time
from pathlib import Path

import pytest


def test_waits_for_interrupt(request: pytest.FixtureRequest) -> None:
    for fixture in os.environ["NEEDS"].split():
        request.getfixturevalue(fixture)
    Path(os.environ["STARTED_FILE"]).write_text("started")
    time.sleep(120)
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Interrupted:
    returncode: int
    output: str
    # From the last SIGINT to the end of the pytest process.
    seconds_to_exit: float


def interrupt_run(
    project: Path,
    python: Path,
    env: dict[str, str],
    *,
    when: Callable[[], bool],
    needs: str,
    presses: int = 1,
) -> Interrupted:
    """Run a test that asks for `needs` (fixture names) and then waits; press Ctrl-C
    `presses` times, half a second apart, once `when()` holds."""
    started = project / ".started"
    waiting = project / "tests/integration/test_waits_for_interrupt.py"
    waiting.write_text(WAITS_FOR_INTERRUPT)
    env = {**env, "STARTED_FILE": str(started), "NEEDS": needs}
    try:
        process = subprocess.Popen(
            [str(python), "-m", "pytest", "-p", "no:randomly", "-n", "2",
             str(waiting.relative_to(project))],
            cwd=project, env=env, start_new_session=True, preexec_fn=sigint_as_in_a_terminal,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_for(lambda: when() or process.poll() is not None, 120, "the moment to interrupt")
            if not when():
                raise AssertionError(
                    f"pytest ended before it could be interrupted:\n{_rest(process)}"
                )
            for press in range(presses):
                if press:
                    time.sleep(0.5)
                os.killpg(process.pid, signal.SIGINT)
            pressed = time.monotonic()
            output, _ = process.communicate(timeout=120)
            seconds = time.monotonic() - pressed
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    finally:
        waiting.unlink()
        started.unlink(missing_ok=True)
    return Interrupted(process.returncode, output, seconds)


def waiting_test_started(project: Path) -> Callable[[], bool]:
    """`when` for interrupt_run: the waiting test is running (its services are up)."""
    return (project / ".started").exists


def _rest(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=30)
    return output[-4000:]
