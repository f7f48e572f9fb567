"""A good guest in the host repository: this suite runs only when asked for.

`pytest tests/integration` (or a path below it) makes pytest read this folder's
pytest.ini: that run is ours, with our settings and without the host's conftest.py
files. Any other run (the host's own `pytest`, `pytest tests`, an IDE collecting
the repository) uses the host's configuration: this folder is then not collected,
and one line says how to run it. Nothing heavy is imported before that decision,
so the host's run works without this suite's requirements installed.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

from . import answers, settings

SUITE_DIR = Path(__file__).resolve().parent.parent
OWN_CONFIG = SUITE_DIR / "pytest.ini"
RUN_COMMAND = (
    "uv run --with-requirements tests/integration/requirements.txt "
    "pytest tests/integration"
)
_GUEST_KEY = pytest.StashKey[bool]()


def add_options(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def is_our_run(config: pytest.Config) -> bool:
    """Whether pytest was started on this folder (it found our pytest.ini)."""
    return config.inipath is not None and config.inipath.resolve() == OWN_CONFIG


def configure(config: pytest.Config) -> None:
    if not is_our_run(config):
        config.stash[_GUEST_KEY] = True
        config.pluginmanager.register(_HostRun(), "integration-tests-left-out")
        return
    missing = [
        module for module in answers.REQUIRED_MODULES if find_spec(module) is None
    ]
    if missing:
        raise pytest.UsageError(
            f"tests/integration needs {', '.join(missing)}, from "
            "tests/integration/requirements.txt. Run the suite with:\n"
            f"    {RUN_COMMAND}\n"
            "or: pip install -r tests/integration/requirements.txt"
        )
    from . import markers, plugin

    markers.register_markers(config)
    plugin.register(config)


def refuse_unresolved_update() -> None:
    """`copier update` conflicts left in the suite: say which files, not a traceback."""
    from ..doctor import conflicted_files

    conflicts = conflicted_files()
    if conflicts:
        listed = "\n".join(f"    {path}" for path in conflicts)
        raise pytest.UsageError(
            "copier update left these files with conflicts; resolve them (keep your "
            f"lines, the template's, or both) and `git add` them:\n{listed}"
        )


def ignore_collect(path: Path, config: pytest.Config) -> bool | None:
    """In the host's run, leave out everything below this folder."""
    if config.stash.get(_GUEST_KEY, False) and path.is_relative_to(SUITE_DIR):
        return True
    return None


class _HostRun:
    """Says once, after collection, that the integration suite was left out."""

    def pytest_report_collectionfinish(self) -> str:
        return (
            "tests/integration: not collected here (it has its own pytest settings); "
            f"run it with: {RUN_COMMAND}"
        )
