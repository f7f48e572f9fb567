"""Markers: registered in code and added automatically; no pytest config needed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from .catalog import SPECS, SQL_SERVICES
from .forecast import DATABASE_CHOICE, literal_return_of
from .run_state import SUITE_DIR

MARKER_LINES = (
    "integration: talks to real services; added to every test under tests/integration",
    (
        "isolation(strategy, reset_sequences=False): database isolation of a test "
        "or module: rollback, delete or fresh"
    ),
    *(
        f"{name}: uses {name}; added automatically from the fixtures a test requests"
        for name in SPECS
    ),
)


def register_markers(config: pytest.Config) -> None:
    """`--strict-markers` accepts these without a line in the user's pytest config."""
    for line in MARKER_LINES:
        config.addinivalue_line("markers", line)


def services_used(item: pytest.Item) -> list[str]:
    """Services a test needs, from the fixtures it requests directly or indirectly.

    db_session & co. reach their database through `database_service`: its
    parameter when a test or conftest parametrizes it, the name an override
    returns (`return "mysql"`), else the default.
    """
    fixturenames: Sequence[str] = getattr(item, "fixturenames", ())
    used = [name for name in SPECS if f"{name}_service" in fixturenames]
    if DATABASE_CHOICE in fixturenames and SQL_SERVICES:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        chosen = str(params.get(DATABASE_CHOICE) or _overridden_choice(item))
        if chosen in SPECS and chosen not in used:
            used.append(chosen)
    return used


def _overridden_choice(item: pytest.Item) -> str:
    """What the closest `database_service` returns when its source says it with a
    literal; the default otherwise (the harness's own, or a computed choice)."""
    # pytest's fixture info is private; without it, the default (as before).
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.get(DATABASE_CHOICE) if info else None
    if definitions:
        return literal_return_of(definitions[-1].func) or SQL_SERVICES[0]
    return SQL_SERVICES[0]


def add_markers(items: Sequence[pytest.Item]) -> None:
    """Mark our tests `integration` and `<service>`: `-m "not redis"` then works."""
    for item in items:
        if not item.path.is_relative_to(SUITE_DIR):
            continue
        item.add_marker(pytest.mark.integration)
        for name in services_used(item):
            item.add_marker(getattr(pytest.mark, name))
