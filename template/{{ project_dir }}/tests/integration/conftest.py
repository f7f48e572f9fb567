"""Integration tests against real services; see README.md in this folder.

This file wires the harness in: its options, markers, the services plugin and the
fixtures of every service (harness/<service>/fixtures.py). Add your own fixtures
here or in conftest.py files next to your tests; `copier update` merges template
changes around your edits.

`pytest tests/integration` reads pytest.ini in this folder: the host project's pytest
settings and conftest.py files do not apply here. Any other pytest run (the host's
own `pytest`, an IDE collecting the whole repository) leaves this folder out. A run
that `copier update` left with conflicts stops before this file is imported (see
__init__.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import guest
from .harness.before_start import SUITE_DIR, is_our_run


def pytest_addoption(parser: pytest.Parser) -> None:
    guest.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    guest.configure(config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The host's run leaves this folder out (see harness/guest.py).
    if not is_our_run(config) and collection_path.is_relative_to(SUITE_DIR):
        return True
    return None


# Your own fixtures go below this line: the template keeps its code above it, so that
# `copier update` merges around them.
