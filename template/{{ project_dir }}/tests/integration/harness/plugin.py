"""The pytest plugin behind tests/integration/conftest.py, one per pytest process.

Life of a run:
  configure     read options; join or start the run (the xdist controller hands it on)
  collection    mark tests, then start the services the selected tests need, at once
                (not with --collect-only: discovery starts nothing), in a thread
  tests         fixtures ask for endpoints, each waiting for its own service only;
                a missing service skips, or fails in CI; a service that stops
                answering fails its later tests at once
  session end   the run's owner sweeps what dead runs left, drops what tests created
                and stops what it started
  summary       provider, endpoint, readiness time and test count per service

Here the hooks; what they call: early_start.py (the start threads),
service_health.py (one message per unavailable service, lost services), summary.py.
"""

from __future__ import annotations

import gc
import sys
import warnings
from collections.abc import Generator
from typing import Any, cast

import pytest

from .concurrency import MAIN_THREAD_IMPORTS
from .early_start import EarlyStarts, remember_selection
from .host_plugins import header_lines
from .in_flight import keeps_full_report, short_report
from .markers import add_markers, services_used
from .run_state import RunState
from .service_health import ServiceHealth, mark_unavailable, unavailable_service
from .service_startup import (
    defer_interrupts,
    release_services,
    sweep_after_dead_runs,
)
from .settings import read_settings
from .summary import Tally, write_summary

PLUGIN_NAME = "integration-services"


class IntegrationPlugin(ServiceHealth):
    """The hooks; the fixtures reach the services through ServiceHealth's methods."""

    def __init__(self, config: pytest.Config) -> None:
        self.tally = Tally()  # first: the time to the first test counts from here
        super().__init__(config, RunState.begin(config), read_settings(config))
        self.starts = EarlyStarts(config, self.run, self.settings)
        if self.run.is_owner:
            self.run.describe(project=_project_name(), keep=self.settings.keep_services)
        if self.run.is_owner and not config.option.collectonly:
            self.starts.before_collection()
        if self.run.is_owner and hasattr(config, "workerinput"):
            warnings.warn(
                "tests/integration/conftest.py was not loaded by the pytest-xdist "
                "controller, so every worker starts its own services. Run "
                "`pytest tests/integration ...` to share one set between workers.",
                stacklevel=1,
            )

    # ------------------------------------------------------------ start-up
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput.update(self.run.workerinput())

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_header(self) -> list[str]:
        """Plugins the host's environment loads into this suite's run."""
        return header_lines(self.config)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # tryfirst: markers must exist before `-m` deselects anything.
        add_markers(items)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):
            gc.freeze()  # the xdist controller imports all it needs before this

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Everything imported so far (SQLAlchemy, Faker, test modules: 100k objects
        # and more) lives until the end: freezing it keeps every later garbage
        # collection, and pytest's collections at the end of the run, from walking
        # it again. Garbage made by the tests is collected as before.
        gc.freeze()
        if self.config.option.collectonly:
            return  # IDEs collect on every save: discovery starts nothing
        needed = sorted(
            {name for item in session.items for name in services_used(item)}
        )
        if needed:
            self.starts.after_collection(needed)

    # ------------------------------------------------------------ during tests
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        for name in services_used(item):
            self.require(name)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        if excinfo is None:
            return report
        if not mark_unavailable(report, excinfo.value) and report.failed:
            lost = self.lost_service(item, excinfo.value)
            if lost and not keeps_full_report(self.config):
                # The service's message is said once; the test says a few lines.
                report.longrepr = short_report(item, excinfo, lost, self.settings)
        return report

    # ------------------------------------------------------------ reporting
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        if unavailable_service(report) is None:
            return None
        return "unavailable", "E", ("UNAVAILABLE", {"red": True})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Under xdist the controller sees every worker's reports, so the owner counts.
        if not self.run.is_owner:
            return
        name = unavailable_service(report)
        if name is not None:
            self.tally.unavailable_tests[name].append(report.nodeid)
            self.announce(name)
        elif report.when == "call":
            self.tally.count(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self) -> None:
        # From the first Ctrl-C to the end, another one only says "please wait":
        # the clean-up that follows is bounded, and must not be cut short.
        self.interrupted = True
        if self.run.is_owner:
            defer_interrupts()

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        # trylast: session-scoped fixtures (per-worker databases) are torn down first.
        _skip_idle_hypothesis_summary(self.config)
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if not interrupted:
            # After Ctrl-C the run ends now: the janitor removes what they start.
            self.starts.finish()
        if self.run.is_owner:
            if not interrupted:
                remember_selection(self.config, self.tally.tests_per_service)
                sweep_after_dead_runs(self.run, self.settings)
            release_services(self.run, self.settings, interrupted=interrupted)
            if not interrupted and not self.starts.under_way:
                self.run.mark_released()

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> None:
        if self.run.is_owner:
            write_summary(terminalreporter, self.run, self.settings, self.tally)

    def pytest_unconfigure(self) -> None:
        if self.run.is_owner:
            self.run.finish()


# Hypothesis' pytest plugin (installed with Schemathesis) imports all of Hypothesis
# in its terminal summary, in every run, to look for what only a run that imported
# Hypothesis can have left: 0.1-0.2 s at the end of each run of tests that never
# used it. The plugin stays for runs that did (the contract tests).
_HYPOTHESIS_PLUGIN = "hypothesispytest"
_HYPOTHESIS_REPORT_KEYS = ("_hypothesis_failing_examples", "_hypothesis_stats")


def _skip_idle_hypothesis_summary(config: pytest.Config) -> None:
    """Unregister Hypothesis' plugin before the summary when it has nothing to say:
    Hypothesis never imported here, and no (xdist worker's) report from it."""
    plugin = config.pluginmanager.get_plugin(_HYPOTHESIS_PLUGIN)
    if plugin is None or "hypothesis" in sys.modules:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reports = getattr(reporter, "stats", {}).values()
    if any(
        key in vars(report)
        for listed in reports
        for report in listed
        if hasattr(report, "__dict__")
        for key in _HYPOTHESIS_REPORT_KEYS
    ):
        return
    config.pluginmanager.unregister(plugin)


def _project_name() -> str:
    from .answers import PROJECT_NAME

    return PROJECT_NAME


def integration_plugin(config: pytest.Config) -> IntegrationPlugin:
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if plugin is None:
        raise RuntimeError("tests/integration/conftest.py did not register its plugin")
    return cast("IntegrationPlugin", plugin)


def register(config: pytest.Config) -> None:
    """Register the plugin and every selected service's fixture modules."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    # The plugin may start services in a thread; the fixture modules import the
    # clients' packages (SQLAlchemy) too: that thread uses them once they are whole.
    with MAIN_THREAD_IMPORTS.under_way():
        config.pluginmanager.register(IntegrationPlugin(config), PLUGIN_NAME)
        from .catalog import fixture_modules

        for module in fixture_modules():
            config.pluginmanager.register(module, f"{PLUGIN_NAME}:{module.__name__}")
