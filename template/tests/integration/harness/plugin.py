"""The pytest plugin behind tests/integration/conftest.py, one per pytest process.

Life of a run:
  configure     read options; join or start the run (the xdist controller hands it on)
  collection    mark tests, then start the services the selected tests need, at once
  tests         fixtures ask for endpoints; a missing service skips, or fails in CI
  session end   the run's owner drops what tests created and stops what it started
  summary       provider, endpoint, readiness time and test count per service
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from typing import Any, cast

import pytest

from .catalog import SERVICES
from .endpoints import ServiceEndpoint
from .markers import add_markers, services_used
from .run_state import RunState
from .service_startup import ensure_services, release_services
from .settings import RunSettings, read_settings
from .summary import write_summary

PLUGIN_NAME = "integration-services"


class IntegrationPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.configured_at = time.time()
        self.settings: RunSettings = read_settings(config)
        self.run = RunState.begin(config)
        self.endpoints: dict[str, ServiceEndpoint] = {}
        self.tests_per_service: Counter[str] = Counter()
        self.first_test_at: float | None = None
        if self.run.is_owner and hasattr(config, "workerinput"):
            warnings.warn(
                "tests/integration/conftest.py was not loaded by the pytest-xdist "
                "controller, so every worker starts its own services. Run "
                "`pytest tests/integration ...` to share one set between workers.",
                stacklevel=1,
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput.update(self.run.workerinput())

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # tryfirst: markers must exist before `-m` deselects anything.
        add_markers(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        needed = sorted(
            {name for item in session.items for name in services_used(item)}
        )
        if needed:
            self.endpoints.update(ensure_services(needed, self.run, self.settings))

    def endpoint(self, name: str) -> ServiceEndpoint:
        """The service for a fixture; skips or fails the test when it is missing."""
        if name not in self.endpoints:
            self.endpoints.update(ensure_services([name], self.run, self.settings))
        endpoint = self.endpoints[name]
        if endpoint.problem_is_error:
            pytest.fail(endpoint.problem, pytrace=False)
        if endpoint.problem:
            pytest.skip(endpoint.problem)
        return endpoint

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Under xdist the controller sees every worker's reports, so the owner counts.
        if report.when != "call" or not self.run.is_owner:
            return
        self.first_test_at = min(self.first_test_at or report.start, report.start)
        for name in SERVICES:
            if name in report.keywords:
                self.tests_per_service[name] += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        # trylast: session-scoped fixtures (per-worker databases) are torn down first.
        if self.run.is_owner:
            release_services(self.run, self.settings)

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> None:
        if self.run.is_owner:
            write_summary(terminalreporter, self)

    def pytest_unconfigure(self) -> None:
        if self.run.is_owner:
            self.run.finish()


def integration_plugin(config: pytest.Config) -> IntegrationPlugin:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError("tests/integration/conftest.py did not register its plugin")
    return cast("IntegrationPlugin", plugin)


def register(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(IntegrationPlugin(config), PLUGIN_NAME)
