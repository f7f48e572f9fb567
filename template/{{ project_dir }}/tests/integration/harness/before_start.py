"""What is decided before any other harness module is imported. Standard library only
(doctor.py loads it before anything is installed; pytest is imported where needed).

- Is this run ours? `pytest tests/integration` (or a path below it) finds this
  folder's pytest.ini; any other run is the host project's, and leaves us out.
- Did `copier update` leave conflicts here? That is checked earlier still, by
  tests/integration/__init__.py: this module, like any other, may hold them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SUITE_DIR = Path(__file__).resolve().parent.parent
OWN_CONFIG = SUITE_DIR / "pytest.ini"


def is_our_run(config: Any) -> bool:
    """Whether pytest was started on this folder (it found our pytest.ini)."""
    inipath = getattr(config, "inipath", None)
    return inipath is not None and Path(inipath).resolve() == OWN_CONFIG
