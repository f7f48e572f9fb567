"""Run a generated suite as an unprivileged user (`nobody`), from a root session.

pytest's temporary directories are readable by root only, so the project is copied
to a directory the user owns; the interpreter must live outside /root as well (see
the world_readable_python fixture).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

USER = "nobody"


@contextlib.contextmanager
def unprivileged_copy(project: Path) -> Iterator[tuple[Path, list[str]]]:
    """A copy of `project` owned by `nobody`, and the command prefix that runs as them."""
    if os.geteuid() != 0:
        pytest.fail("switching to an unprivileged user needs root (CI runs as root)")
    workdir = Path(tempfile.mkdtemp(prefix="template-tests-unprivileged-"))
    try:
        copy = workdir / project.name
        shutil.copytree(project, copy)
        subprocess.run(["chown", "-R", USER, str(workdir)], check=True)
        yield copy, ["runuser", "-u", USER, "--"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
