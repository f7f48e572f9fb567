"""Integration tests: real PostgreSQL, Redis, RabbitMQ and HTTP servers, never mocks.

This file is template-owned and runs first: pytest imports this package before any
conftest.py or harness module in it. So this is where a run started on this folder
stops when `copier update` left conflicts here (conftest.py, the file you edit most,
is the likeliest): one message naming the files, instead of a SyntaxError from
whichever file pytest imports first. Standard library only, and cheap (a few
milliseconds): it runs at every start, in every xdist worker. doctor.py uses it too.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent
# copier update's inline conflict markers, each on a line of its own.
_MARKER_LINE = re.compile(
    rb"^(<<<<<<< before updating|>>>>>>> after updating)\r?$", re.MULTILINE
)
_TEXT_SUFFIXES = (".py", ".yml", ".yaml", ".ini", ".txt", ".md", ".toml")
_NOT_SCANNED = frozenset({"__pycache__", "node_modules"})
_USAGE_ERROR = 4  # pytest's exit code for a run that cannot start as asked


def conflicted_files() -> list[Path]:
    """Files `copier update` left with conflict markers, and its .rej files."""
    found = []
    for root, folders, names in os.walk(SUITE_DIR):
        # Caches and hidden folders (.pytest_cache, .hypothesis): copier writes
        # nothing there, and they grow.
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name not in _NOT_SCANNED
        )
        paths = [Path(root, name) for name in sorted(names)]
        found += [path for path in paths if _is_conflicted(path)]
    return found


def _is_conflicted(path: Path) -> bool:
    if path.suffix == ".rej":
        return True
    if not path.name.endswith(_TEXT_SUFFIXES):
        return False
    return _MARKER_LINE.search(path.read_bytes()) is not None


def conflicts_message(conflicts: list[Path]) -> str:
    listed = "\n".join(f"    {path}" for path in conflicts)
    return (
        "copier update left these files with conflicts; resolve them (keep your "
        f"lines, the template's, or both), `git add` them and run again:\n{listed}"
    )


def _pytest_is_starting() -> bool:
    """Whether pytest imports this package while it starts a run on this folder.

    pytest loads the conftest.py files of the paths it was given (its "initial
    conftests") inside its pytest_load_initial_conftests hook, before it configures
    anything: there, SystemExit ends the run with just our message. Any other import
    is left alone: the host project's run, which walks past this folder while it
    collects (it would turn SystemExit into an internal error, and a conflict in a
    file it never imports is not its business), or a tool importing a module.
    """
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "pytest_load_initial_conftests":
            return True
        frame = frame.f_back
    return False


def _refuse_conflicts() -> None:
    conflicts = conflicted_files()
    if conflicts:
        sys.stderr.write(conflicts_message(conflicts) + "\n")
        raise SystemExit(_USAGE_ERROR)


if _pytest_is_starting():
    _refuse_conflicts()
