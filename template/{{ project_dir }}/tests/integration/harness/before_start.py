"""What is decided before any other harness module is imported. Standard library only
(doctor.py loads it before anything is installed; pytest is imported where needed).

- Is this run ours? `pytest tests/integration` (or a path below it) finds this
  folder's pytest.ini; any other run is the host project's, and leaves us out.
- Did `copier update` leave conflicts here? Then any module may hold conflict markers
  and fail to import: say which files, before importing them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

SUITE_DIR = Path(__file__).resolve().parent.parent
OWN_CONFIG = SUITE_DIR / "pytest.ini"
# copier update's inline conflict markers, at the start of a line.
_MARKER_LINE = re.compile(
    r"^(<<<<<<< before updating|>>>>>>> after updating)$", re.MULTILINE
)
_TEXT_SUFFIXES = frozenset({".py", ".yml", ".yaml", ".ini", ".txt", ".md", ".toml"})
_NOT_SCANNED = frozenset({"__pycache__", "node_modules"})


def is_our_run(config: Any) -> bool:
    """Whether pytest was started on this folder (it found our pytest.ini)."""
    inipath = getattr(config, "inipath", None)
    return inipath is not None and Path(inipath).resolve() == OWN_CONFIG


def conflicted_files() -> list[Path]:
    """Files `copier update` left with conflict markers, and its .rej files."""
    files = _suite_files()
    found = [path for path in files if path.suffix == ".rej"]
    found += [
        path
        for path in files
        if path.suffix in _TEXT_SUFFIXES
        and _MARKER_LINE.search(path.read_text(errors="replace"))
    ]
    return found


def _suite_files() -> list[Path]:
    """The suite's files, without caches and hidden folders (.pytest_cache,
    .hypothesis, __pycache__): copier writes none there, and they grow."""
    found = []
    for root, folders, names in os.walk(SUITE_DIR):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name not in _NOT_SCANNED
        )
        found += [Path(root, name) for name in sorted(names)]
    return found


def refuse_conflicts() -> None:
    """One message listing every conflicted file, instead of a SyntaxError."""
    conflicts = conflicted_files()
    if conflicts:
        import pytest

        listed = "\n".join(f"    {path}" for path in conflicts)
        raise pytest.UsageError(
            "copier update left these files with conflicts; resolve them (keep your "
            f"lines, the template's, or both) and `git add` them:\n{listed}"
        )
