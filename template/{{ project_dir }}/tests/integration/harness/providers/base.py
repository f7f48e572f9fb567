"""The provider seam every way of getting a service goes through."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from ..concurrency import MAIN_THREAD_IMPORTS, map_concurrently
from ..endpoints import ServiceEndpoint, masked_url
from ..errors import Cause, ServiceNotReadyError, first_line
from ..port_protocol import other_protocol_check
from ..readiness import ExitCheck, wait_until_ready
from ..run_state import RunState
from ..service_spec import ServiceSpec
from ..settings import RunSettings

# The lines of a log (a container's, `compose up`'s) a failure report ends with.
LOG_LINES = 10


class Provider(ABC):
    """Starts or finds services for one run; removes what it started at the end."""

    name: ClassVar[str]

    def __init__(self, run: RunState, settings: RunSettings) -> None:
        self.run = run
        self.settings = settings
        # Told of each endpoint as soon as it is known, before the slowest is: the
        # tests that need only that service can start (service_startup.py).
        self.on_endpoint: Callable[[ServiceEndpoint], None] = _ignore

    @abstractmethod
    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        """Endpoints for `specs`, concurrently; failures are problems, not raises."""

    def each(
        self,
        start: Callable[[ServiceSpec], ServiceEndpoint],
        specs: Sequence[ServiceSpec],
    ) -> dict[str, ServiceEndpoint]:
        """`start` for every spec at once, each endpoint handed on as it comes."""

        def started(spec: ServiceSpec) -> ServiceEndpoint:
            endpoint = start(spec)
            self.on_endpoint(endpoint)
            return endpoint

        return {e.service: e for e in map_concurrently(started, specs)}

    def release(self) -> None:  # noqa: B027 - providers that start nothing release nothing
        """Remove everything this run started, unless services are kept (--it-keep)."""

    def keep_hint(self) -> str:
        """How to remove services kept with --it-keep ("" when nothing to say)."""
        return ""

    def wait_ready(  # noqa: PLR0913 - keyword-only, passed on to the wait
        self,
        spec: ServiceSpec,
        url: str,
        *,
        timeout: float,
        fail_fast: bool = False,
        just_started: bool = False,
        exited: ExitCheck | None = None,
    ) -> float:
        """Wait for `spec` to answer at `url` (see readiness.py)."""
        MAIN_THREAD_IMPORTS.wait()  # the probe's client, imported whole first
        return wait_until_ready(
            lambda seconds: spec.probe(url, seconds),
            what=f"{spec.name} at {masked_url(url)}",
            timeout=timeout,
            fail_fast=fail_fast,
            just_started=just_started,
            exited=exited,
            attempt_seconds=self.settings.connect_timeout,
            # A server someone else runs may be the wrong one; ours are not (and
            # a check while a container boots would only slow its first answer).
            other_protocol=(
                other_protocol_check(url, spec.port, spec.protocol)
                if spec.protocol and fail_fast
                else None
            ),
        )

    def kept_if_answering(self, spec: ServiceSpec, url: str) -> ServiceEndpoint | None:
        """The service an earlier --it-keep run left at `url`, if it answers now
        (else None: the caller looks further or starts a new one)."""
        MAIN_THREAD_IMPORTS.wait()  # the probe's client, imported whole first
        try:
            spec.probe(url, self.settings.connect_timeout)
        except Exception:  # noqa: BLE001 - not answering is what we are finding out
            return None
        return ServiceEndpoint(
            service=spec.name,
            provider=self.name,
            url=url,
            started_by_suite=True,
            reused=True,
        )

    def started(self, spec: ServiceSpec, url: str, since: float) -> ServiceEndpoint:
        """A service this run started at `url`, answering since its start at `since`
        (time.monotonic()); removed at the end unless kept."""
        return ServiceEndpoint(
            service=spec.name,
            provider=self.name,
            url=url,
            ready_seconds=time.monotonic() - since,
            started_by_suite=True,
        )

    def start_failure(
        self, spec: ServiceSpec, error: Exception, what: str, log: str
    ) -> ServiceEndpoint:
        """What this provider started for `spec` never answered: the one report of
        every provider. A wait that ran out is NOT_READY (a slow machine may need a
        longer IT_STARTUP_TIMEOUT); anything else (it exited, Docker or the server
        refused it) FAILED_TO_START: waiting longer cannot help. `log` is the tail
        of what it said (`log_tail`)."""
        cause = (
            Cause.NOT_READY
            if isinstance(error, ServiceNotReadyError)
            else Cause.FAILED_TO_START
        )
        return self.failure(
            spec,
            cause,
            f"{spec.name}: {cause.value}: {what}: {first_line(error)}\n"
            f"last log lines:\n{log}",
        )

    def image_failure(self, spec: ServiceSpec, detail: str) -> ServiceEndpoint:
        """`spec`'s image cannot be had (`detail`: what the pull said)."""
        return self.failure(
            spec,
            Cause.IMAGE,
            f"{spec.name}: {Cause.IMAGE.value}: {spec.image()} {detail}\n"
            f"If your network cannot reach that registry, set {spec.image_env} "
            "to a mirror or a pre-pulled image.",
        )

    def failure(self, spec: ServiceSpec, cause: Cause, problem: str) -> ServiceEndpoint:
        """A provider that was asked for and failed is an error, never a silent skip.

        `problem` starts with "<service>: <cause>" and its first line stands alone:
        it is what each test that needed the service reports.
        """
        return ServiceEndpoint(
            service=spec.name,
            provider=self.name,
            problem=problem,
            cause=cause.value,
            problem_is_error=True,
        )


def log_tail(text: str) -> str:
    """The last LOG_LINES lines of `text`, indented under a report's headline."""
    lines = text.strip().splitlines()[-LOG_LINES:]
    return "\n".join(f"  {line}" for line in lines) or "  (no output)"


def _ignore(endpoint: ServiceEndpoint) -> None:
    del endpoint
