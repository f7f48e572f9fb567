"""A good guest in the host repository: this suite runs only when asked for.

`pytest tests/integration` (or a path below it) makes pytest read this folder's
pytest.ini: that run is ours, with our settings and without the host's conftest.py
files. Any other run (the host's own `pytest`, `pytest tests`, an IDE collecting
the repository) uses the host's configuration: this folder is then not collected,
and one line says how to run it. Nothing heavy is imported before that decision,
so the host's run works without this suite's requirements installed.
"""

from __future__ import annotations

import os
from importlib.util import find_spec

import pytest

from . import answers, settings
from .before_start import SUITE_DIR, is_our_run

RUN_COMMAND = (
    "uv run --with-requirements tests/integration/requirements.txt "
    "pytest tests/integration"
)


def add_options(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def configure(config: pytest.Config) -> None:
    if not is_our_run(config):
        config.pluginmanager.register(_HostRun(), "integration-tests-left-out")
        return
    missing = [
        module for module in answers.REQUIRED_MODULES if find_spec(module) is None
    ]
    if missing:
        raise pytest.UsageError(
            f"tests/integration needs {', '.join(missing)}, from "
            "tests/integration/requirements.txt. Run the suite with:\n"
            f"    {RUN_COMMAND}\n"
            "or, in a virtual environment of its own: "
            "pip install -r tests/integration/requirements.txt"
        )
    _keep_hypothesis_files_here()
    from . import markers, plugin

    markers.register_markers(config)
    plugin.register(config)


def _keep_hypothesis_files_here() -> None:
    """Hypothesis (under the Schemathesis contract tests) keeps its example database
    and caches in `.hypothesis/` of the working directory: the repository's root when
    the suite runs from there. This folder instead, whatever the working directory
    (its .gitignore ignores it). Hypothesis reads the variable when it first stores
    something, so nothing is imported here; a location you set yourself wins.
    """
    home = SUITE_DIR / ".hypothesis"
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(home))


class _HostRun:
    """Says once, after collection, that the integration suite was left out."""

    def pytest_report_collectionfinish(self) -> str:
        return (
            "tests/integration: not collected here (it has its own pytest settings); "
            f"run it with: {RUN_COMMAND}"
        )
