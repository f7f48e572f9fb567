"""Servers someone else runs (CI `services:`, a dev server): used, never started."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..endpoints import ServiceEndpoint, masked_url
from ..errors import ServiceNotReadyError
from ..service_spec import ServiceSpec
from .base import Provider

# A running server answers at once; a CI service container may still be booting.
_MAX_WAIT_SECONDS = 30.0


class ExternalProvider(Provider):
    name = "external"

    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        with ThreadPoolExecutor(max_workers=max(len(specs), 1)) as pool:
            return {
                endpoint.service: endpoint
                for endpoint in pool.map(self._connect, specs)
            }

    def _connect(self, spec: ServiceSpec) -> ServiceEndpoint:
        url = spec.configured_url()
        if not url:
            return self.failure(
                spec,
                f"{spec.name}: IT_PROVIDER=external but {spec.url_env} is not set. "
                f"Set it to your server, e.g. {spec.url_env}={spec.url_example}",
            )
        try:
            spec.check_url(url)
        except ValueError as exc:
            return self.failure(
                spec,
                f"{spec.name}: {spec.url_env}={masked_url(url)} cannot be used: {exc}. "
                f"Expected something like {spec.url_example}",
            )
        try:
            seconds = self.wait_ready(
                spec, url, timeout=min(self.settings.startup_timeout, _MAX_WAIT_SECONDS)
            )
        except ServiceNotReadyError as exc:
            return self.failure(
                spec,
                f"{spec.name}: {spec.url_env} is set but the server does not answer: "
                f"{exc}. Start that server, or unset {spec.url_env} to let the suite "
                "start a container.",
            )
        return ServiceEndpoint(
            service=spec.name, provider=self.name, url=url, ready_seconds=seconds
        )
