"""Servers someone else runs (CI `services:`, a dev server): used, never started.

Such a server is expected to answer. A definitive "no" (nothing listens, the login
or the database is refused) fails at once; a server that accepts connections but is
not ready yet (still booting) gets IT_STARTUP_TIMEOUT, like a container would.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..concurrency import MAIN_THREAD_IMPORTS
from ..endpoints import ServiceEndpoint, masked_url
from ..errors import Cause, ServiceNotReadyError, ServiceRefusedError, UnsafeTargetError
from ..service_spec import ServiceSpec
from .base import Provider


class ExternalProvider(Provider):
    name = "external"

    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        return self.each(self._connect, specs)

    def _connect(self, spec: ServiceSpec) -> ServiceEndpoint:
        url = spec.configured_url()
        if not url:
            return self.failure(
                spec,
                Cause.NO_PROVIDER,
                f"{spec.name}: {Cause.NO_PROVIDER.value}: IT_PROVIDER=external but "
                f"{spec.url_env} is not set.\n"
                f"Set it to your server, e.g. {spec.url_env}={spec.url_example}",
            )
        shown = f"{spec.url_env}={masked_url(url)}"
        MAIN_THREAD_IMPORTS.wait()  # check_url parses with the client's library
        try:
            # Before anything connects: a refused target is never touched.
            spec.check_url(url)
        except UnsafeTargetError as exc:
            return self.failure(
                spec, Cause.UNSAFE, f"{spec.name}: {Cause.UNSAFE.value}: {exc}"
            )
        except ValueError as exc:
            return self.failure(
                spec,
                Cause.BAD_URL,
                f"{spec.name}: {shown}: {Cause.BAD_URL.value}: {exc}.\n"
                f"Expected something like {spec.url_example}",
            )
        try:
            seconds = self.wait_ready(
                spec, url, timeout=self.settings.startup_timeout, fail_fast=True
            )
        except ServiceRefusedError as exc:
            return self.failure(
                spec,
                exc.cause,
                f"{spec.name}: {exc.cause.value}: {exc} ({shown})\n"
                f"{_advice(spec, exc.cause, url)}",
            )
        except ServiceNotReadyError as exc:
            return self.failure(
                spec,
                Cause.NOT_READY,
                f"{spec.name}: {Cause.NOT_READY.value}: {exc} ({shown})\n"
                "It accepts connections but does not answer: is it frozen, overloaded "
                "or still starting? Raise IT_STARTUP_TIMEOUT if it is slow to start.",
            )
        return ServiceEndpoint(
            service=spec.name, provider=self.name, url=url, ready_seconds=seconds
        )


def _advice(spec: ServiceSpec, cause: Cause, url: str) -> str:
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or spec.port}"
    if cause is Cause.NOTHING_LISTENS:
        return (
            f"Start the server on {where}, fix the address in {spec.url_env}, or "
            f"unset {spec.url_env} to let the suite start a container."
        )
    if cause is Cause.CREDENTIALS:
        return f"Fix the user and password in {spec.url_env}."
    if cause is Cause.OTHER_PROTOCOL:
        return (
            f"{where} is another service's port: fix the port in {spec.url_env} "
            f"({spec.name} listens on {spec.port} by default)."
        )
    if cause is Cause.MISSING:
        return f"Create it on {where}, or point {spec.url_env} at one that exists."
    return f"Check {spec.url_env}."
