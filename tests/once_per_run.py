"""Build something once for a whole test run, whichever xdist worker asks first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

# Building a venv may take minutes where uv has no cache yet.
BUILD_TIMEOUT = 1200


def once_per_run(root: Path, name: str, build: Callable[[Path], Path]) -> Path:
    """`build(root / name)` by the first process to ask; the others wait for it and
    get its result. `root` is the folder every process of the run shares."""
    made = root / f"{name}.path"
    with FileLock(str(root / f"{name}.lock"), timeout=BUILD_TIMEOUT):
        if not made.exists():
            made.write_text(str(build(root / name)))
        return Path(made.read_text())
