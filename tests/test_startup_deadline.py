"""A start-up deadline is kept: to within a moment of IT_STARTUP_TIMEOUT, and
reported as the time the run really spent (issue 29, item 9).

The battery (tests/test_fault_battery.py) shows it for four frozen servers in one
generated run; these pin down the two ways it was missed, each in a few seconds:
- after a first attempt that took all the time, the check of what the port speaks
  ran its 0.9 s past the deadline;
- two threads that start services at the same time (the start-up thread and a
  test's fixture) had their waits added up: "services up in 20.8 s" for a run
  whose services all gave up after 10 s.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rendering import render

DEADLINE_SCRIPT = """
import json, time
from integration.harness.readiness import wait_until_ready

def frozen(seconds):  # accepts the connection, never answers: the whole timeout
    time.sleep(seconds)
    raise TimeoutError("no answer")

checked = []

def other_protocol(seconds):  # a frozen port says nothing either
    checked.append(seconds)
    time.sleep(seconds)
    return ""

started = time.monotonic()
try:
    wait_until_ready(
        frozen, what="svc", timeout=2.0, fail_fast=True,
        attempt_seconds=10.0, other_protocol=other_protocol,
    )
except Exception as exc:
    error = f"{type(exc).__name__}: {exc}"
print(json.dumps({"waited": time.monotonic() - started, "error": error, "checked": checked}))
"""

SPANS_SCRIPT = """
import json, shutil, threading, uuid
from integration.harness.run_state import RunState
from integration.harness.service_startup import _record_startup, startup_seconds

run = RunState(uuid.uuid4().hex[:12], "main", is_owner=True)
worker = RunState(run.run_id, "gw1", is_owner=False)
run.directory.mkdir(parents=True)
try:
    # The start-up thread and a test's fixture, at once: 100-110 and 100.5-110.4.
    threads = [
        threading.Thread(target=_record_startup, args=(run, 100.0, 110.0)),
        threading.Thread(target=_record_startup, args=(run, 100.5, 110.4)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Later, in turns: another worker's fixture asks for one more service.
    _record_startup(worker, 120.0, 121.0)
    print(json.dumps({"seconds": startup_seconds(run)}))
finally:
    shutil.rmtree(run.directory)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("deadline") / "shop", services=["redis"])


def run_script(project: Path, python: Path, script: str) -> dict[str, object]:
    completed = subprocess.run(
        [str(python), "-c", script],
        cwd=project / "tests",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def test_a_frozen_port_ends_the_wait_at_its_deadline(project: Path, suite_python: Path) -> None:
    report = run_script(project, suite_python, DEADLINE_SCRIPT)
    assert "did not answer within 2 s" in str(report["error"]), report
    waited = report["waited"]
    assert isinstance(waited, float)
    # The attempt took the 2 s; nothing ran past them (0.3.0: 2.9 s, the check's 0.9).
    assert 2.0 <= waited < 2.2, report


def test_starts_that_overlap_are_counted_once(project: Path, suite_python: Path) -> None:
    report = run_script(project, suite_python, SPANS_SCRIPT)
    # 100-110.4 covered once, then 120-121: 11.4 s, not the 21.9 s of a sum.
    assert report["seconds"] == pytest.approx(11.4), report
