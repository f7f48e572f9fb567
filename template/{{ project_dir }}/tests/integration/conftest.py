"""Integration tests against real services; see README.md in this folder.

This file wires the harness in: its options, markers, the services plugin and the
fixtures of every service (harness/<service>/fixtures.py). Add your own fixtures
here or in conftest.py files next to your tests; `copier update` merges template
changes around your edits.

`pytest tests/integration` reads pytest.ini in this folder: the host project's pytest
settings and conftest.py files do not apply here. Any other pytest run (the host's
own `pytest`, an IDE collecting the whole repository) leaves this folder out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import guest


def pytest_addoption(parser: pytest.Parser) -> None:
    guest.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    guest.configure(config)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    return guest.ignore_collect(collection_path, config)
