"""What the harness must know of a kind of service to provide it from anywhere."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .answers import REGISTRY

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from .embedded_server import EmbeddedServer
    from .endpoints import ServiceEndpoint
    from .run_state import RunState
    from .settings import RunSettings


@dataclass(frozen=True)
class ServiceSpec:
    """A kind of service (postgres, redis, ...): how to reach, start and probe it."""

    name: str
    url_env: str
    image_env: str
    default_image: str
    port: int
    url_example: str
    # URL of a container of ours, given the host and published port it is reachable on.
    url_for: Callable[[str, int], str]
    # One readiness round trip within `seconds`; raises while the service does not
    # answer yet, and ServiceRefusedError when it answers "no" (see errors.py).
    probe: Callable[[str, float], None]
    # Builds a testcontainers object for an image, configured but not started: a plain
    # DockerContainer, whose start waits for nothing. The provider's readiness wait (a
    # round trip from here, polled often) is the only one; testcontainers' classes
    # per image would first wait with checks of their own, every 0.2 s.
    make_container: Callable[[str, dict[str, str]], DockerContainer]
    # Checks a user-supplied URL before anything connects to it: ValueError when it
    # cannot work, UnsafeTargetError when the suite must not touch it.
    check_url: Callable[[str], None]
    # Whether an error raised by this service's client means the service is gone
    # (connection refused, reset, timed out), not that one test did something wrong.
    is_connection_error: Callable[[BaseException], bool]
    # Clean-up of what tests created on the server (databases, queues), run once by
    # the run's owner before providers stop anything: servers may outlive the run.
    release_run: Callable[[ServiceEndpoint, RunState, RunSettings], None] | None = None
    # How to run it from a wheel without Docker (the embedded provider), if possible.
    embedded: EmbeddedServer | None = None
    # Modules its first test imports after the service answers (SQLAlchemy's dialect
    # for it): imported while the run waits for the service to start instead.
    first_use_imports: tuple[str, ...] = ()
    # The packages its probe and URL check import (the client; SQLAlchemy's URL
    # parser). Entered by two threads at once (`import pika` in a probe beside
    # `from pika.adapters... import` in a test module), a package with import cycles
    # is left half-initialised for one of them. So the main thread imports them
    # (service_startup.import_clients) and the threads that start services wait for
    # it (concurrency.MainThreadImports).
    client_modules: tuple[str, ...] = ()
    # The wire protocol it speaks (a key of port_protocol.PROTOCOL_NAMES): a URL
    # whose port speaks another is refused at once instead of waited for.
    protocol: str = ""

    @classmethod
    def registered(cls, name: str, **code: Any) -> ServiceSpec:
        """A spec whose names, image, port and container come from the template's
        registry (copier.yml); `code` is the rest, the service's own functions."""
        entry = REGISTRY[name]
        return cls(
            name=name,
            url_env=entry.url_env,
            image_env=entry.image_env,
            default_image=entry.image,
            port=entry.port,
            url_example=entry.url_example,
            url_for=entry.container.url_at,
            make_container=functools.partial(registered_container, name),
            **code,
        )

    def image(self) -> str:
        """IT_<SERVICE>_IMAGE (mirrors, air-gapped registries), else the pin."""
        return os.environ.get(self.image_env, "").strip() or self.default_image

    def configured_url(self) -> str:
        """IT_<SERVICE>_URL, the already-running server to use, or "" when unset."""
        return os.environ.get(self.url_env, "").strip()


def registered_container(
    name: str, image: str, labels: dict[str, str]
) -> DockerContainer:
    """A container of `image` with the registry's settings for `name`: the same
    environment, command and tmpfs as its service in compose.yaml. No wait of
    its own: see ServiceSpec.make_container."""
    from testcontainers.core.container import DockerContainer

    entry = REGISTRY[name]
    settings = entry.container
    container = DockerContainer(
        image, env=dict(settings.environment), ports=[entry.port], labels=labels
    )
    if settings.command:
        container = container.with_command(list(settings.command))
    if settings.tmpfs:
        container = container.with_tmpfs_mount(settings.tmpfs)
    return container
