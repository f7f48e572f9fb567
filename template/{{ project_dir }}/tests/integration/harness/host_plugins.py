"""pytest plugins that load from the environment but are not this suite's.

`uv run --with-requirements tests/integration/requirements.txt` lays the suite's
requirements over your project's environment, and pytest loads every plugin
installed there: pytest-cov, pytest-sugar, pytest-django, pytest-databases (whose
`postgres_service` & co. have the names of ours), ... They change fixtures, output
and speed without a word, so the run's header names them.

The suite's own are the distributions its requirements*.txt name, and the plugins
those bring along (`_BROUGHT_ALONG`). Read from the files, not from package metadata:
walking the metadata of every requirement costs about 0.1 s per run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .run_state import SUITE_DIR

# Plugins the suite's requirements install without naming them: anyio (by httpx),
# hypothesis (by schemathesis), Faker (by factory-boy). tests/test_host_plugins.py
# fails when a requirement brings another.
_BROUGHT_ALONG = frozenset({"anyio", "hypothesis", "faker"})
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", re.MULTILINE)


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def suite_distributions() -> frozenset[str]:
    """What requirements*.txt of this folder name (comments and options skipped)."""
    names: set[str] = set()
    for path in SUITE_DIR.glob("requirements*.txt"):
        names.update(canonical(m) for m in _REQUIREMENT_NAME.findall(path.read_text()))
    return frozenset(names | _BROUGHT_ALONG)


def foreign_plugins(config: pytest.Config) -> list[tuple[str, str]]:
    """(distribution and version, the name `-p no:` takes) of each plugin loaded
    from a distribution that is not the suite's."""
    ours = suite_distributions()
    manager = config.pluginmanager
    found: list[tuple[str, str]] = []
    plugin: Any
    for plugin, dist in manager.list_plugin_distinfo():
        name = canonical(dist.project_name)
        if name in ours or name == "pytest":
            continue
        registered = manager.get_name(plugin) or ""
        found.append((f"{dist.project_name} {dist.version}", registered))
    return found


def header_lines(config: pytest.Config) -> list[str]:
    """Nothing when every loaded plugin is the suite's."""
    found = foreign_plugins(config)
    if not found:
        return []
    names = ", ".join(sorted({dist for dist, _ in found}))
    switches = " ".join(sorted({f"-p no:{name}" for _, name in found if name}))
    keep_out = (
        "  to keep them out of this suite, add to addopts in tests/integration/"
        f"pytest.ini: {switches} (README: Plugins from your environment)"
    )
    return [
        f"plugins from your environment, not this suite's requirements: {names}",
        keep_out,
    ]
