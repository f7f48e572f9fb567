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

A service that cannot be had is reported once, with its cause and what to do; each
test that needed it reports one line (status UNAVAILABLE).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import sys
import threading
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager, suppress
from typing import Any, cast

import pytest

from .catalog import SPECS
from .concurrency import MAIN_THREAD_IMPORTS, start_thread
from .docker_engine import load_sdk
from .endpoints import ServiceEndpoint
from .errors import Cause
from .forecast import forecast
from .host_plugins import header_lines
from .in_flight import (
    GENERIC_CONNECTION_ERRORS,
    error_chain,
    keeps_full_report,
    short_report,
)
from .markers import add_markers, services_used
from .providers import kept_record
from .providers.selection import asks_docker
from .run_state import RunState
from .service_startup import (
    defer_interrupts,
    ensure_services,
    import_clients,
    release_services,
    sweep_after_dead_runs,
)
from .settings import RunSettings, read_settings
from .summary import write_summary

PLUGIN_NAME = "integration-services"
_UNAVAILABLE = "it_unavailable"
# A service that fails a test this way is probed once, this fast, before the run
# gives up on it.
_LOST_PROBE_SECONDS = 2.0


class IntegrationPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.configured_at = time.time()
        self.settings: RunSettings = read_settings(config)
        self.run = RunState.begin(config)
        self.endpoints: dict[str, ServiceEndpoint] = {}
        self.tests_per_service: Counter[str] = Counter()
        self.unavailable_tests: defaultdict[str, list[str]] = defaultdict(list)
        self.announced: set[str] = set()
        self.first_test_at: float | None = None
        self.interrupted = False
        if self.run.is_owner:
            self.run.describe(project=_project_name(), keep=self.settings.keep_services)
        # Threads that start services while pytest goes on: before collection
        # (_start_early), and once collection has said which (_start_needed).
        self._starts: list[threading.Thread] = []
        if self.run.is_owner and not config.option.collectonly:
            self._start_early(*_early_selection(config))
        if self.run.is_owner and hasattr(config, "workerinput"):
            warnings.warn(
                "tests/integration/conftest.py was not loaded by the pytest-xdist "
                "controller, so every worker starts its own services. Run "
                "`pytest tests/integration ...` to share one set between workers.",
                stacklevel=1,
            )

    # ------------------------------------------------------------ start-up
    def _start_early(self, names: list[str], reason: str) -> None:
        """Start what the same command needed last time, or else what the selected
        tests' source asks for (forecast.py), while pytest imports and collects (and
        xdist boots its workers): a cold start then waits for its service, not for
        it plus the start-up. Collection still decides: whatever it needs is
        ensured as before (waiting for this start on each service's lock), and a
        service started here that it no longer needs is released at the end like
        any other."""
        if not names:
            return

        def start() -> None:
            try:
                ensure_services(names, self.run, self.settings)
            except Exception:  # noqa: BLE001 - collection asks again and reports it
                return
            self.run.remember("notes", f"started early, {reason}: {', '.join(names)}")

        if _needs_sdk(self.settings, names):
            # Imported first, here, rather than by the start's thread beside
            # collection's imports (taking turns with them for the GIL), it lets the
            # container be created ~0.15 s sooner; collection has that time to
            # spare: it then waits for the service.
            load_sdk()
        self._starts.append(start_thread(start, name="early-start"))
        # While the thread creates containers; it probes once they are imported
        # (`register` holds MAIN_THREAD_IMPORTS until the fixture modules are too).
        import_clients(names)

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
            # What the thread will use, imported here first (MainThreadImports).
            known = self.run.read_endpoints()
            if _needs_sdk(self.settings, [n for n in needed if n not in known]):
                load_sdk()
            import_clients(needed)
            self._starts.append(start_thread(self._start_needed, needed, name="start"))

    def _start_needed(self, names: list[str]) -> None:
        """Start what the collected tests need, all at once, while the first tests
        run: each test waits in its fixtures for its own services only (`endpoint`),
        not for the slowest of the run's."""
        with suppress(Exception):  # each test's `endpoint` asks again and reports it
            ensure_services(names, self.run, self.settings)

    def endpoint(self, name: str) -> ServiceEndpoint:
        """The service for a fixture; a missing one ends the test with one line."""
        if name not in self.endpoints:
            self.endpoints.update(ensure_services([name], self.run, self.settings))
        endpoint = self.endpoints[name]
        if endpoint.problem:
            self._unavailable(name, endpoint.headline, error=endpoint.problem_is_error)
        return endpoint

    # ------------------------------------------------------------ during tests
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        for name in services_used(item):
            lost = self.run.lost(name)
            if lost:
                self._unavailable(name, lost.splitlines()[0], error=True)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        excinfo = call.excinfo
        error = excinfo.value if excinfo is not None else None
        if isinstance(error, ServiceUnavailable):
            report.user_properties.append((_UNAVAILABLE, error.service))
        elif report.failed and excinfo is not None and _may_be_lost(error):
            lost = self._lost_service(item, excinfo.value)
            if lost and not keeps_full_report(self.config):
                # The service's message is said once; the test says a few lines.
                report.longrepr = short_report(item, excinfo, lost, self.settings)
        return report

    @contextmanager
    def service_calls(self, name: str) -> Iterator[None]:
        """Setup steps on `name`: a service that stopped answering is said once."""
        self.require(name)
        try:
            yield
        except Exception as exc:
            if self._connection_lost(name, exc):
                self._unavailable(name, self.run.lost(name).splitlines()[0], error=True)
            raise

    def clean_up(self, name: str, step: Callable[[], object]) -> None:
        """A clean-up step on `name`, skipped when the service is gone (said once):
        the server cannot be cleaned, and each attempt would wait for a timeout.
        After Ctrl-C it is skipped too: the run ends now, and the owner's clean-up
        removes what the run made (or the next run's sweep)."""
        if self.interrupted:
            return
        if self.run.lost(name):
            return
        try:
            step()
        except Exception as exc:
            if not self._connection_lost(name, exc):
                raise

    def require(self, name: str) -> None:
        """Before a test uses `name`: one line at once if the run has lost it."""
        lost = self.run.lost(name)
        if lost:
            self._unavailable(name, lost.splitlines()[0], error=True)

    def _lost_service(self, item: pytest.Item, error: BaseException) -> str | None:
        """The service whose loss failed this test, if that is why it failed.

        Every started service, not only the test's declared ones: fixtures can be
        requested dynamically. Each service recognises its own client's errors
        anywhere in the chain (SQLAlchemy wraps the driver's, which wraps a
        socket's); a bare timeout or cancellation (asyncio clients) counts for the
        services the test declared, once a probe confirms that one is gone."""
        used = services_used(item)
        for name in dict.fromkeys([*used, *self.endpoints]):
            for link in error_chain(error):
                if self._connection_lost(name, link, generic=name in used):
                    return name
        return None

    def _connection_lost(
        self, name: str, error: BaseException, *, generic: bool = False
    ) -> bool:
        """Whether `error` means `name` is gone (probed once to be sure); recorded."""
        spec = SPECS.get(name)
        endpoint = self.endpoints.get(name)
        if spec is None or endpoint is None:
            return False
        if not spec.is_connection_error(error) and not (
            generic and isinstance(error, GENERIC_CONNECTION_ERRORS)
        ):
            return False
        if self.run.lost(name):
            return True
        try:
            spec.probe(endpoint.url, _LOST_PROBE_SECONDS)
        except Exception:  # noqa: BLE001 - not answering is what we are finding out
            detail = (
                f"{type(error).__name__}: {next(iter(str(error).splitlines()), '')}"
            )
            self.run.mark_lost(
                name,
                f"{name}: {Cause.LOST.value} ({detail}); its remaining tests error "
                "at once.",
            )
            return True
        return False

    def _unavailable(self, name: str, headline: str, *, error: bool) -> None:
        """End the current test with one line (reported as UNAVAILABLE), or skip it."""
        if not error:
            pytest.skip(headline)
        raise ServiceUnavailable(name, headline)

    # ------------------------------------------------------------ reporting
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
        name = _unavailable_service(report)
        if name is None:
            return None
        return "unavailable", "E", ("UNAVAILABLE", {"red": True})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Under xdist the controller sees every worker's reports, so the owner counts.
        if not self.run.is_owner:
            return
        name = _unavailable_service(report)
        if name is not None:
            self.unavailable_tests[name].append(report.nodeid)
            self._announce_by_name(name)
            return
        if report.when != "call":
            return
        self.first_test_at = min(self.first_test_at or report.start, report.start)
        for service in SPECS:
            if service in report.keywords:
                self.tests_per_service[service] += 1

    def _announce_by_name(self, name: str) -> None:
        lost = self.run.lost(name)
        if lost:
            self._write_once(name, f"{lost}")
            return
        endpoint = self.run.read_endpoints().get(name)
        if endpoint is not None:
            self._announce(endpoint)

    def _announce(self, endpoint: ServiceEndpoint) -> None:
        if endpoint.problem and self.run.is_owner:
            self._write_once(endpoint.service, endpoint.problem)

    def _write_once(self, name: str, message: str) -> None:
        """The full message for a service, once per run, as soon as it is known."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if name in self.announced or reporter is None:
            return
        self.announced.add(name)
        reporter.ensure_newline()
        reporter.section(f"{name} is unavailable", sep="!", red=True, bold=True)
        for line in message.splitlines():
            reporter.line(line)

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
            # A start under way finishes and writes its endpoints (an xdist worker
            # too: killed half-way, its services would be started again by another).
            # After Ctrl-C the run ends now: the janitor removes what they start.
            for thread in self._starts:
                thread.join(self.settings.startup_timeout)
        if self.run.is_owner:
            if not interrupted:
                _remember_selection(self.config, self.tests_per_service)
                sweep_after_dead_runs(self.run, self.settings)
            release_services(self.run, self.settings, interrupted=interrupted)
            # A start still under way may yet create a container.
            starting = any(thread.is_alive() for thread in self._starts)
            if not interrupted and not starting:
                self.run.mark_released()

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter
    ) -> None:
        if self.run.is_owner:
            write_summary(terminalreporter, self)

    def pytest_unconfigure(self) -> None:
        if self.run.is_owner:
            self.run.finish()


class ServiceUnavailable(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A test needed a service the run cannot have: one line, no traceback."""

    def __init__(self, service: str, headline: str) -> None:
        super().__init__(headline, pytrace=False)
        self.service = service


def _may_be_lost(error: BaseException | None) -> bool:
    """Errors a lost service can cause: not Ctrl-C, not pytest's own exits."""
    return isinstance(error, (Exception, asyncio.CancelledError))


def _unavailable_service(report: pytest.TestReport) -> str | None:
    """The service a test failed without, if that is why it failed (any worker)."""
    if not report.failed:
        return None
    for key, value in getattr(report, "user_properties", ()):
        if key == _UNAVAILABLE:
            return str(value)
    return None


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


_LAST_COMMAND = "integration/last-command"


def _needs_sdk(settings: RunSettings, names: list[str]) -> bool:
    """Whether starting `names` loads the Docker SDK. Not for services with a URL,
    nor for kept containers on record (kept_record.py), unless IT_PROVIDER=auto,
    which asks Docker whether it answers before it chooses."""
    unset = [name for name in names if not SPECS[name].configured_url()]
    if not unset or not asks_docker(settings):
        return False
    return settings.provider == "auto" or not all(map(kept_record.recorded, unset))


def _command(config: pytest.Config) -> str:
    arguments = json.dumps(list(config.invocation_params.args))
    return hashlib.sha256(arguments.encode()).hexdigest()


def _early_selection(config: pytest.Config) -> tuple[list[str], str]:
    """What to start before collection: what this command used last time, else
    (its first run) what the selected tests' source asks for."""
    remembered = _remembered_selection(config)
    if remembered is not None:
        reason = "as this command did last"
        names = remembered
    else:
        reason = "as the selected tests' fixtures ask"
        names = forecast(config)
    # A service only named by a URL answers at once anyway: nothing to win there.
    return [n for n in names if n in SPECS and not SPECS[n].configured_url()], reason


def _remembered_selection(config: pytest.Config) -> list[str] | None:
    """The services the same command used last time (pytest's cache, like --lf);
    None after another command, or when the cache is off."""
    cache = getattr(config, "cache", None)
    remembered = cache.get(_LAST_COMMAND, {}) if cache is not None else {}
    if not isinstance(remembered, dict) or remembered.get("command") != _command(
        config
    ):
        return None
    names = remembered.get("services", [])
    return [name for name in names if isinstance(name, str)]


def _remember_selection(config: pytest.Config, used: Counter[str]) -> None:
    cache = getattr(config, "cache", None)
    if cache is not None:
        services = sorted(name for name, count in used.items() if count)
        cache.set(_LAST_COMMAND, {"command": _command(config), "services": services})


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
