"""Is there a Docker engine we can use? If not, say why in words a user can act on."""

from __future__ import annotations

import functools
import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testcontainers.core.docker_client import DockerClient

_API_TIMEOUT_SECONDS = 10


def docker_client() -> DockerClient:
    """A client for the engine testcontainers uses (DOCKER_HOST, docker context)."""
    from testcontainers.core.docker_client import DockerClient

    return DockerClient(timeout=_API_TIMEOUT_SECONDS)


@functools.cache
def docker_problem() -> str:
    """Why Docker cannot be used right now, or "" when the engine answers a ping."""
    try:
        docker_client().client.ping()
    except Exception as exc:  # noqa: BLE001 - docker-py wraps socket errors in many types
        return _explain(str(exc))
    return ""


def _explain(error: str) -> str:
    where = os.environ.get("DOCKER_HOST") or "the default socket /var/run/docker.sock"
    if "ermission denied" in error:
        return (
            f"permission denied on {where}: add your user to the 'docker' group "
            "and log in again, or point DOCKER_HOST at an engine you may use"
        )
    if shutil.which("docker") is None and "DOCKER_HOST" not in os.environ:
        return "Docker is not installed (no 'docker' command and no DOCKER_HOST)"
    if "No such file" in error or "onnection refused" in error:
        return (
            f"Docker is not running (nothing answers on {where}): start Docker Desktop "
            "or the docker service"
        )
    return f"Docker does not answer on {where}: {error}"
