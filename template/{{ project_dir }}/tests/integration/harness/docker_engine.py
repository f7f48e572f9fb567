"""Is there a Docker engine we can use? If not, say why in words a user can act on."""

from __future__ import annotations

import functools
import importlib
import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testcontainers.core.docker_client import DockerClient

_API_TIMEOUT_SECONDS = 10
# How often a starting container is asked whether it still runs (an API call), between
# readiness attempts.
_STATUS_EVERY_SECONDS = 0.5


@functools.cache
def docker_client() -> DockerClient:
    """A client for the engine testcontainers uses (DOCKER_HOST, docker context).

    One per process: each new one asks the engine for its API version first, a round
    trip before every call that a cold start would wait for.
    """
    from testcontainers.core.docker_client import DockerClient

    return DockerClient(timeout=_API_TIMEOUT_SECONDS)


def load_sdk() -> None:
    """Import the Docker SDK, through testcontainers, before it is needed."""
    importlib.import_module("testcontainers.core.container")


@functools.cache
def docker_problem() -> str:
    """Why Docker cannot be used right now, or "" when the engine answers.

    Making the client asks the engine for its API version: that round trip is the
    check (a ping after it would be a second one on the way to the first container).
    """
    try:
        docker_client()
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


class ExitWatch:
    """Why a container the suite is starting can no longer answer ("" while it may),
    for readiness.wait_until_ready: a container that exits is reported at once, not
    after the startup timeout.

    `current` returns the container (docker-py's Container, attributes fresh from the
    engine), or None when there is none; Docker is asked at most every
    _STATUS_EVERY_SECONDS.
    """

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current
        self._next_check = time.monotonic() + _STATUS_EVERY_SECONDS

    def __call__(self) -> str:
        if time.monotonic() < self._next_check:
            return ""
        self._next_check = time.monotonic() + _STATUS_EVERY_SECONDS
        container = self._current()
        if container is None or container.status not in {"exited", "dead"}:
            return ""
        code = container.attrs.get("State", {}).get("ExitCode")
        return f"its container {container.status} (exit code {code}) before answering"

    def at_once(self) -> str:
        """The same, asking Docker now: a step that failed (`compose port` of a
        container that has exited) may have failed because the container is gone."""
        self._next_check = 0.0
        return self()
