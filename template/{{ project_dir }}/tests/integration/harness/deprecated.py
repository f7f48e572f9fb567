"""Old names, kept working for at least one release; each use warns once.

Every deprecated alias of the harness lives here, so that removing them later is
one module and its callers. CHANGELOG.md says when each was renamed.
"""

from __future__ import annotations

import warnings


class HarnessDeprecationWarning(DeprecationWarning):
    """An old name of the integration harness; filter by this class to silence it."""


# The isolation that empties the tables after a test runs DELETE, not TRUNCATE
# (cheaper on the few rows a test writes): `truncate` is its old name (0.2.x).
ISOLATION_ALIASES = {"truncate": "delete"}


def isolation_name(name: str, where: str) -> str:
    """`name` with its current spelling; warns when `where` used an old one."""
    current = ISOLATION_ALIASES.get(name)
    if current is None:
        return name
    warnings.warn(
        f"{where}: isolation {name!r} is now called {current!r}; the old name "
        "works for now and will be removed in a later release",
        HarnessDeprecationWarning,
        stacklevel=3,
    )
    return current
