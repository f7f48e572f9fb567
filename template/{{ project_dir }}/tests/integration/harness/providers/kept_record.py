"""Kept containers (--it-keep) found again without loading the Docker SDK.

Importing the Docker SDK (requests and all) costs 0.2-0.4 s in every run, which is
most of what reusing a kept container costs. So a run that keeps a container records
its id, URL and start time here, and the next run of the checkout asks the engine
about that one container: one GET over the engine's Unix socket, standard library
only (hand-written for that reason). It is used only when it is still running, still
carries this checkout's labels and has not restarted since (its ports would have
changed); in any other case, or with a DOCKER_HOST that is not a Unix socket, the
provider looks for kept containers through the SDK as before.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any

from ..run_state import STATE_ROOT, checkout_id

_DEFAULT_SOCKET = "/var/run/docker.sock"
_API_TIMEOUT_SECONDS = 5.0
_RECORDS = STATE_ROOT / "kept-containers"
# Named tuples: `ruff format` for Python 3.14 would drop a literal's parentheses.
_UNREADABLE = (OSError, ValueError)
_NO_ANSWER = (OSError, ValueError, http.client.HTTPException)


def recorded(service: str) -> bool:
    """Whether a kept container of `service` was recorded (it may since have gone)."""
    return _record_path(service).is_file()


def remember(service: str, container_id: str, url: str) -> None:
    """Record the container a --it-keep run leaves for `service` (if the engine is
    reachable this way at all)."""
    details = inspect_container(container_id)
    if details is None:
        return
    record = {
        "id": container_id,
        "url": url,
        "started_at": details.get("State", {}).get("StartedAt", ""),
    }
    path = _record_path(service)
    # Without a record the next run finds the container through the SDK: no error.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(record))
        scratch.replace(path)


def recorded_url(service: str, labels: dict[str, str]) -> str:
    """The URL of the kept container recorded for `service`, if it is still that
    container: running, same labels, not restarted since. Otherwise ""."""
    try:
        record = json.loads(_record_path(service).read_text())
    except _UNREADABLE:
        return ""
    details = inspect_container(str(record.get("id", "")))
    if details is None:
        return ""
    state = details.get("State", {})
    found = details.get("Config", {}).get("Labels") or {}
    if (
        not state.get("Running")
        or state.get("StartedAt") != record.get("started_at")
        or any(found.get(key) != value for key, value in labels.items())
    ):
        return ""
    return str(record.get("url", ""))


def inspect_container(container_id: str) -> dict[str, Any] | None:
    """`docker inspect` of one container over the engine's Unix socket; None when
    the engine is elsewhere, does not answer, or does not know the container."""
    path = _unix_socket()
    if path is None or not container_id.isalnum():
        return None
    connection = _UnixHTTPConnection(path, _API_TIMEOUT_SECONDS)
    try:
        connection.request("GET", f"/containers/{container_id}/json")
        response = connection.getresponse()
        if response.status != http.client.OK:
            return None
        details: dict[str, Any] = json.loads(response.read())
    except _NO_ANSWER:
        return None
    finally:
        connection.close()
    return details


def _record_path(service: str) -> Path:
    return _RECORDS / f"{checkout_id()}-{service}.json"


def _unix_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return _DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return None  # tcp://, ssh://, npipe://: the SDK path handles those


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket, as the Docker engine's API is usually served."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            with contextlib.suppress(OSError):
                sock.close()
            raise
        self.sock = sock
