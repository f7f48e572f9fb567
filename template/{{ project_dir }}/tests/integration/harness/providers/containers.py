"""Containers from testcontainers-python, labelled so that nothing is left behind.

Every container carries labels naming its project, checkout, service and run. The
run's owner removes the run's containers by label at the end, so it does not matter
which xdist worker started them, and it works with testcontainers' reaper (Ryuk)
disabled. Containers of runs that died (kill -9, a closed laptop) are reaped by the
next run on the same machine.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import answers
from ..docker_engine import ExitWatch, docker_client, docker_problem
from ..endpoints import ServiceEndpoint
from ..errors import Cause, first_line
from ..janitor import LABEL
from ..run_state import checkout_id, run_is_alive
from ..service_spec import ServiceSpec
from . import kept_record
from .base import LOG_LINES, Provider, log_tail

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient


class ContainersProvider(Provider):
    name = "testcontainers"

    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        recorded = [self._recorded_kept_endpoint(spec) for spec in specs]
        found = {endpoint.service: endpoint for endpoint in recorded if endpoint}
        for endpoint in found.values():
            self.on_endpoint(endpoint)  # its tests need not wait for the others
        rest = [spec for spec in specs if spec.name not in found]
        if rest:
            found.update(self._provide_with_sdk(rest))
        return found

    def _provide_with_sdk(
        self, specs: Sequence[ServiceSpec]
    ) -> dict[str, ServiceEndpoint]:
        problem = docker_problem()
        if problem:
            return {
                spec.name: self.failure(
                    spec,
                    Cause.NO_DOCKER,
                    f"{spec.name}: {Cause.NO_DOCKER.value} ({self.name} needs it): "
                    f"{problem}",
                )
                for spec in specs
            }
        self._configure_testcontainers()
        client = docker_client()
        try:
            return self.each(lambda spec: self._provide_one(client, spec), specs)
        finally:
            # After ours are up, not before: its listing is not worth a cold
            # start's wait. Housekeeping: its own failure fails nothing.
            with contextlib.suppress(Exception):
                self._reap_abandoned()

    def release(self) -> None:
        mine = [
            e for e in self.run.read_endpoints().values() if e.provider == self.name
        ]
        if mine and all(endpoint.reused for endpoint in mine):
            return  # the run started nothing: no need to load the Docker SDK to look
        if docker_problem():
            return
        for container in self._containers({"run": self.run.run_id}):
            if container.labels.get(f"{LABEL}.keep") != "true":
                _remove(container)

    def keep_hint(self) -> str:
        return "python tests/integration/doctor.py stop"

    def _configure_testcontainers(self) -> None:
        from testcontainers.core.config import testcontainers_config

        if self.settings.keep_services:
            # Ryuk removes a session's containers when its process exits: exactly
            # what --it-keep must not do. Our labels take over the clean-up.
            testcontainers_config.ryuk_disabled = True

    def _provide_one(self, client: DockerClient, spec: ServiceSpec) -> ServiceEndpoint:
        kept = self._kept_endpoint(client, spec)
        if kept is not None:
            return kept
        image = spec.image()
        try:
            _ensure_image(client, image)
        except Exception as exc:  # noqa: BLE001 - registry errors come in many types
            return self.image_failure(spec, f"({first_line(exc)})")
        return self._start(spec, spec.make_container(image, self._labels(spec)))

    def _start(self, spec: ServiceSpec, container: DockerContainer) -> ServiceEndpoint:
        started = time.monotonic()
        try:
            container.start()  # created and started; the specs add no wait of theirs
            url = spec.url_for(
                container.get_container_host_ip(), container.get_exposed_port(spec.port)
            )
            # Ready is a round trip from here, through the published port.
            self.wait_ready(
                spec,
                url,
                timeout=self.settings.startup_timeout,
                just_started=True,
                exited=ExitWatch(_refreshed(container)),
            )
            if self.settings.keep_services:
                kept_record.remember(
                    spec.name, container.get_wrapped_container().id, url
                )
        except Exception as exc:  # noqa: BLE001 - reported with the container's log tail
            logs = _logs(container)
            with contextlib.suppress(Exception):
                container.stop()
            return self.start_failure(spec, exc, f"container {spec.image()}", logs)
        return self.started(spec, url, started)

    def _recorded_kept_endpoint(self, spec: ServiceSpec) -> ServiceEndpoint | None:
        """The kept container recorded by an earlier run, checked without the SDK
        (kept_record.py), if it answers."""
        labels = {f"{LABEL}.{key}": value for key, value in _kept_labels(spec).items()}
        url = kept_record.recorded_url(spec.name, labels)
        if not url:
            return None
        return self.kept_if_answering(spec, url)  # if not, the SDK path decides

    def _kept_endpoint(
        self, client: DockerClient, spec: ServiceSpec
    ) -> ServiceEndpoint | None:
        """A container an earlier run left running with --it-keep, if it answers."""
        for container in self._containers(_kept_labels(spec)):
            if container.status != "running":
                continue
            host, port = _reachable_address(client, container.id, spec.port)
            endpoint = self.kept_if_answering(spec, spec.url_for(host, port))
            if endpoint is not None:
                kept_record.remember(spec.name, container.id, endpoint.url)
                return endpoint
        return None

    def _labels(self, spec: ServiceSpec) -> dict[str, str]:
        return {
            f"{LABEL}.project": answers.PROJECT_NAME,
            f"{LABEL}.checkout": checkout_id(),
            f"{LABEL}.service": spec.name,
            f"{LABEL}.run": self.run.run_id,
            f"{LABEL}.host": socket.gethostname(),
            f"{LABEL}.keep": "true" if self.settings.keep_services else "false",
        }

    def _containers(self, labels: dict[str, str]) -> list[Any]:
        filters = {"label": [f"{LABEL}.{key}={value}" for key, value in labels.items()]}
        return list(docker_client().client.containers.list(all=True, filters=filters))

    def _reap_abandoned(self) -> None:
        """Containers of runs on this machine whose pytest process is gone.

        The janitor of each run removes them; this catches runs whose janitor could
        not (a machine that went down mid-run).
        """
        for container in self._containers(
            {"host": socket.gethostname(), "keep": "false"}
        ):
            run_id = container.labels.get(f"{LABEL}.run", "")
            if run_id != self.run.run_id and not run_is_alive(run_id):
                _remove(container)


def _kept_labels(spec: ServiceSpec) -> dict[str, str]:
    """What marks a container kept (--it-keep) for `spec` by this checkout."""
    return {
        "project": answers.PROJECT_NAME,
        "checkout": checkout_id(),
        "service": spec.name,
        "keep": "true",
    }


def _ensure_image(client: DockerClient, image: str) -> None:
    """Pull `image` unless the engine has it: a failed pull is reported as the
    image's fault here, not as a container that failed to start."""
    # A plain import: no isort setting (or ruff version) rewraps it around the comment.
    import docker.errors  # type: ignore[import-untyped, unused-ignore]

    try:
        client.client.images.get(image)  # one call; images.list makes one per match
    except docker.errors.ImageNotFound:
        client.client.images.pull(image)


def _reachable_address(
    client: DockerClient, container_id: str, port: int
) -> tuple[str, int]:
    """Host and port from here, as testcontainers computes them for its containers."""
    mode = client.get_connection_mode()
    if not mode.use_mapped_port:
        return client.bridge_ip(container_id), port
    host = (
        client.host()
        if mode.value == "docker_host"
        else client.gateway_ip(container_id)
    )
    return host, int(client.port(container_id, port))


def _refreshed(container: DockerContainer) -> Callable[[], Any]:
    """The container's state as Docker has it now, for ExitWatch."""
    wrapped = container.get_wrapped_container()

    def refresh() -> Any:
        wrapped.reload()
        return wrapped

    return refresh


def _logs(container: DockerContainer) -> str:
    try:
        raw: bytes = container.get_wrapped_container().logs(tail=LOG_LINES)
    except Exception:  # noqa: BLE001 - the container may never have been created
        return "  (no logs: the container was not created)"
    return log_tail(raw.decode(errors="replace"))


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True, v=True)
