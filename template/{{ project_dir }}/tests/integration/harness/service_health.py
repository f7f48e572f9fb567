"""Whether the run has each service, as the tests go: one message per service.

A service that cannot be had is reported once, with its cause and what to do; each
test that needed it reports one line (status UNAVAILABLE), or skips when the run
may do without it. A service that stops answering is probed once, recorded as lost
(run_state.py: every xdist worker sees it), and fails its later tests at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from .catalog import SPECS
from .endpoints import ServiceEndpoint
from .errors import Cause, first_line
from .in_flight import GENERIC_CONNECTION_ERRORS, error_chain
from .markers import services_used
from .run_state import RunState
from .service_startup import ensure_services
from .settings import RunSettings

# In a report's user_properties: the service a test failed without (any worker).
_UNAVAILABLE = "it_unavailable"
# A service that fails a test this way is probed once, this fast, before the run
# gives up on it.
_LOST_PROBE_SECONDS = 2.0


class ServiceUnavailable(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """A test needed a service the run cannot have: one line, no traceback."""

    def __init__(self, service: str, headline: str) -> None:
        super().__init__(headline, pytrace=False)
        self.service = service


class ServiceHealth:
    """The services as this process's tests see them; the fixtures ask it first."""

    def __init__(
        self, config: pytest.Config, run: RunState, settings: RunSettings
    ) -> None:
        self.config = config
        self.run = run
        self.settings = settings
        self.endpoints: dict[str, ServiceEndpoint] = {}
        self.announced: set[str] = set()
        # After Ctrl-C: the run ends now, clean-up steps are skipped.
        self.interrupted = False

    def endpoint(self, name: str) -> ServiceEndpoint:
        """The service for a fixture; a missing one ends the test with one line."""
        if name not in self.endpoints:
            self.endpoints.update(ensure_services([name], self.run, self.settings))
        endpoint = self.endpoints[name]
        if endpoint.problem:
            self._unavailable(name, endpoint.headline, error=endpoint.problem_is_error)
        return endpoint

    def require(self, name: str) -> None:
        """Before a test uses `name`: one line at once if the run has lost it."""
        lost = self.run.lost(name)
        if lost:
            self._unavailable(name, lost.splitlines()[0], error=True)

    @contextmanager
    def service_calls(self, name: str) -> Iterator[None]:
        """Setup steps on `name`: a service that stopped answering is said once."""
        self.require(name)
        try:
            yield
        except Exception as exc:
            if self._connection_lost(name, exc):
                self.require(name)
            raise

    def clean_up(self, name: str, step: Callable[[], object]) -> None:
        """A clean-up step on `name`, skipped when the service is gone (said once):
        the server cannot be cleaned, and each attempt would wait for a timeout.
        After Ctrl-C it is skipped too: the run ends now, and the owner's clean-up
        removes what the run made (or the next run's sweep)."""
        if self.interrupted or self.run.lost(name):
            return
        try:
            step()
        except Exception as exc:
            if not self._connection_lost(name, exc):
                raise

    def lost_service(self, item: pytest.Item, error: BaseException) -> str | None:
        """The service whose loss failed this test, if that is why it failed.

        Every started service, not only the test's declared ones: fixtures can be
        requested dynamically. Each service recognises its own client's errors
        anywhere in the chain (SQLAlchemy wraps the driver's, which wraps a
        socket's); a bare timeout or cancellation (asyncio clients) counts for the
        services the test declared, once a probe confirms that one is gone. Not
        Ctrl-C, nor pytest's own exits."""
        if not isinstance(error, (Exception, asyncio.CancelledError)):
            return None
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
            self.run.mark_lost(
                name,
                f"{name}: {Cause.LOST.value} ({first_line(error)}); its remaining "
                "tests error at once.",
            )
            return True
        return False

    def _unavailable(self, name: str, headline: str, *, error: bool) -> None:
        """End the current test with one line (reported as UNAVAILABLE), or skip it."""
        if not error:
            pytest.skip(headline)
        raise ServiceUnavailable(name, headline)

    def announce(self, name: str) -> None:
        """The full message of a service the run cannot have, once per run, as soon
        as a test reports it (the owner sees every worker's reports)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if name in self.announced or reporter is None:
            return
        endpoint = self.run.read_endpoints().get(name)
        message = self.run.lost(name) or (endpoint.problem if endpoint else "")
        if not message:
            return
        self.announced.add(name)
        reporter.ensure_newline()
        reporter.section(f"{name} is unavailable", sep="!", red=True, bold=True)
        for line in message.splitlines():
            reporter.line(line)


def mark_unavailable(report: pytest.TestReport, error: BaseException) -> bool:
    """Whether `error` is a service the test lacked: then the report says which, to
    every process's report hooks."""
    if not isinstance(error, ServiceUnavailable):
        return False
    report.user_properties.append((_UNAVAILABLE, error.service))
    return True


def unavailable_service(report: pytest.TestReport) -> str | None:
    """The service a test failed without, if that is why it failed (any worker)."""
    if not report.failed:
        return None
    for key, value in getattr(report, "user_properties", ()):
        if key == _UNAVAILABLE:
            return str(value)
    return None
