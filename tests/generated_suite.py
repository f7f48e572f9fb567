"""Run a rendered project's integration suite for real and read back what happened."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

# What the outer run must not hand to a generated suite: its own settings (IT_*, CI)
# and its pytest or virtualenv state. Everything else (certificates, proxies) passes.
_WITHHELD_PREFIXES = ("IT_", "PYTEST_", "TESTCONTAINERS_")
_WITHHELD = {"CI", "VIRTUAL_ENV", "PYTHONPATH"}
PYCACHE = Path(tempfile.gettempdir()) / f"template-tests-pycache-of-{os.getuid()}"


@dataclass
class SuiteResult:
    returncode: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"exit {self.returncode}: {len(self.passed)} passed, "
            f"{len(self.failed)} failed/errors, {len(self.skipped)} skipped\n"
            f"{self.output[-6000:]}"
        )

    def assert_all_passed(self, at_least: int) -> None:
        """Green means: exit 0, nothing failed, nothing skipped, enough tests ran."""
        assert self.returncode == 0, self.summary()
        assert not self.failed, self.summary()
        assert not self.skipped, self.summary()
        assert len(self.passed) >= at_least, self.summary()


def sigint_as_in_a_terminal() -> None:
    """preexec_fn for a run that a test interrupts: Ctrl-C works in it even when
    this run was started where SIGINT is ignored (a shell's background job: `cmd &`
    without job control). An ignored SIGINT is inherited across exec, and Python then
    installs no KeyboardInterrupt handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def uv_executable() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise RuntimeError("uv is needed to build the generated suites' environments")
    return uv


def clean_environment(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _WITHHELD and not key.startswith(_WITHHELD_PREFIXES)
    }
    env["TESTCONTAINERS_RYUK_DISABLED"] = "true"  # no registry here for the reaper
    # Bytecode cached as users have it, outside the rendered projects (their git
    # trees stay clean for `copier update`): runs of one project compile it once.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(overrides)
    return env


def run_suite(
    project: Path,
    command: list[str],
    *args: str,
    env: dict[str, str],
    paths: tuple[str, ...] = ("tests/integration",),
    timeout: float = 900,
    cache: bool = False,
) -> SuiteResult:
    """`command` starts pytest (a venv's `python -m pytest`, or `uv run ... pytest`).

    pytest's cache is off unless asked for: runs stay independent of each other.
    """
    if "randomly" not in args:
        args = ("-p", "no:randomly", *args)
    if not cache:
        args = ("-p", "no:cacheprovider", *args)
    report = project / "junit.xml"
    report.unlink(missing_ok=True)
    completed = subprocess.run(
        [*command, *paths, f"--junitxml={report}", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = SuiteResult(completed.returncode, completed.stdout + completed.stderr)
    if report.exists():
        _read_junit(report, result)
    return result


def _read_junit(report: Path, result: SuiteResult) -> None:
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            result.failed.append(name)
        elif skipped is not None:
            result.skipped[name] = skipped.get("message", "")
        else:
            result.passed.append(name)
