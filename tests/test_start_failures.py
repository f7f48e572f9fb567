"""Every provider reports what it started and what never answered through one path
(Provider.start_failure): a wait that ran out is "did not become ready" (a longer
IT_STARTUP_TIMEOUT may help), anything else "failed to start" (it exited, Docker or
the server refused it: waiting cannot help). Compose once mapped the other way round.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rendering import render

SCRIPT = """
import json
from integration.harness.catalog import SPECS
from integration.harness.errors import (
    Cause, ServiceExitedError, ServiceNotReadyError, ServiceRefusedError,
)
from integration.harness.providers.base import Provider, log_tail

class Started(Provider):
    name = "started"
    def provide(self, specs):
        return {}

provider = Started(None, None)
errors = {
    "not ready": ServiceNotReadyError("postgres at x did not answer within 3 s"),
    "exited": ServiceExitedError("postgres at x: its container exited (exit code 3)"),
    "refused": ServiceRefusedError(Cause.CREDENTIALS, "password authentication failed"),
    "other": RuntimeError("`compose port postgres 5432` said ''"),
}
reports = {
    what: provider.start_failure(SPECS["postgres"], error, "container img", log_tail("a\\nb"))
    for what, error in errors.items()
}
print(json.dumps({what: [e.cause, e.problem] for what, e in reports.items()}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("start-failures") / "shop", services=["postgres"])


def test_only_a_wait_that_ran_out_is_not_ready(project: Path, suite_python: Path) -> None:
    completed = subprocess.run(
        [str(suite_python), "-c", SCRIPT],
        cwd=project / "tests",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    reports = json.loads(completed.stdout)
    causes = {what: cause for what, (cause, _) in reports.items()}
    assert causes == {
        "not ready": "did not become ready",
        "exited": "failed to start",
        "refused": "failed to start",
        "other": "failed to start",
    }
    assert reports["exited"][1] == (
        "postgres: failed to start: container img: ServiceExitedError: postgres at x: "
        "its container exited (exit code 3)\nlast log lines:\n  a\n  b"
    )
