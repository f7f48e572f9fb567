"""What the harness must know of a kind of service to provide it from anywhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    # One readiness round trip; raises while the service does not answer yet.
    probe: Callable[[str], None]
    # A testcontainers object for `image`, configured but not started.
    container: Callable[[str, dict[str, str]], DockerContainer]
    # Raises ValueError with a helpful message when a user-supplied URL cannot work.
    check_url: Callable[[str], None]
    # Clean-up of what tests created on the server (databases, queues), run once by
    # the run's owner before providers stop anything: servers may outlive the run.
    release_run: Callable[[ServiceEndpoint, RunState, RunSettings], None] | None = None
    # How to run it from a wheel without Docker (the embedded provider), if possible.
    embedded: EmbeddedServer | None = None

    def image(self) -> str:
        """IT_<SERVICE>_IMAGE (mirrors, air-gapped registries), else the pin."""
        return os.environ.get(self.image_env, "").strip() or self.default_image

    def configured_url(self) -> str:
        """IT_<SERVICE>_URL, the already-running server to use, or "" when unset."""
        return os.environ.get(self.url_env, "").strip()
