"""Moved to harness/sql/factories.py in 0.2.0; this alias goes in 0.3.0.

Samples copied before 0.2.0 import from here. Change the import to
`from ..harness.sql.factories import ...` (see CHANGELOG.md).
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any


def __getattr__(name: str) -> Any:
    warnings.warn(
        f"harness.postgres.factories.{name} moved to harness.sql.factories.{name}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(import_module("..sql.factories", __package__), name)
