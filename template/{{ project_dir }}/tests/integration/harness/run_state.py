"""One pytest run, seen from the controller and every xdist worker.

Services are started once per run, not once per worker: the first process that
needs them starts them under a file lock and writes their endpoints to a small
state directory; the other workers read them from there. The run's owner (the
xdist controller, or the only process without xdist) removes everything at the end.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from .endpoints import ServiceEndpoint
from .janitor import (
    FINISHED_MARK,
    UNREADABLE,
    process_alive,
    released_marker,
    start_janitor,
)


def _user_id() -> str:
    return str(os.getuid()) if hasattr(os, "getuid") else getpass.getuser()


# Per user, like pytest's /tmp/pytest-of-<user>: users never share a run directory.
STATE_ROOT = Path(tempfile.gettempdir()) / f"integration-runs-of-{_user_id()}"
SUITE_DIR = Path(__file__).resolve().parent.parent
_RUN_ID_KEY = "it_run_id"


def checkout_id() -> str:
    """Short, stable id of this checkout: two clones never share services."""
    return hashlib.sha256(str(SUITE_DIR).encode()).hexdigest()[:8]


def run_is_alive(run_id: str) -> bool:
    """Whether the run that owns `run_id` is still going (its owner process exists)."""
    try:
        pid = int((STATE_ROOT / run_id / "owner.pid").read_text())
    except UNREADABLE:
        return False
    return process_alive(pid)


@functools.cache
def _lost_file(run_id: str, service: str) -> Path:
    # Looked at several times in every test: the path is built once.
    return STATE_ROOT / run_id / f"lost-{service}.txt"


@dataclass(frozen=True)
class RunState:
    """Identity and shared files of the current run."""

    run_id: str
    worker: str
    is_owner: bool

    @property
    def directory(self) -> Path:
        return STATE_ROOT / self.run_id

    @classmethod
    def begin(cls, config: pytest.Config) -> RunState:
        """Join the run the xdist controller started, or start a new one and own it."""
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        if workerinput is not None and _RUN_ID_KEY in workerinput:
            return cls(
                run_id=workerinput[_RUN_ID_KEY],
                worker=workerinput["workerid"],
                is_owner=False,
            )
        # No xdist, the xdist controller, or a worker whose controller did not load this
        # conftest (pytest run without the tests/integration path): own a run.
        worker = workerinput["workerid"] if workerinput is not None else "main"
        state = cls(uuid.uuid4().hex[:12], worker, is_owner=True)
        state.directory.mkdir(parents=True, exist_ok=True)
        (state.directory / "owner.pid").write_text(str(os.getpid()))
        return state

    def describe(self, *, project: str, keep: bool) -> None:
        """What a later run needs to sweep after this one, should it die."""
        self._write_json(
            "run.json", {"project": project, "checkout": checkout_id(), "keep": keep}
        )

    def description(self) -> dict[str, Any]:
        described: dict[str, Any] = self._read_json("run.json", {})
        return described

    @classmethod
    def dead_runs(cls, project: str) -> list[RunState]:
        """Runs of `project` on this machine whose owner process is gone."""
        dead = []
        for directory in STATE_ROOT.glob("*"):
            run = cls(directory.name, worker="sweeper", is_owner=False)
            if (
                directory.is_dir()
                and not run_is_alive(run.run_id)
                and run.description().get("project") == project
            ):
                dead.append(run)
        return dead

    def ensure_janitor(self) -> None:
        """Start the janitor of this run once, whoever starts services first."""
        marker = self.directory / "janitor.started"
        with self.lock("janitor", timeout=30):
            if not marker.exists():
                start_janitor(self.directory)
                marker.touch()

    def mark_released(self) -> None:
        """Owner, after a clean-up that removed all the run started: the janitor
        (if any) has nothing to do. Not after a failed step or a lost service."""
        if not (self.directory / "janitor.started").exists():
            return
        if any(self.directory.glob("lost-*.txt")) or self.remembered("unclean"):
            return
        released_marker(self.directory).touch()

    def mark_lost(self, service: str, detail: str) -> bool:
        """Record that `service` stopped answering; True for the first to say so."""
        try:
            with _lost_file(self.run_id, service).open("x") as fh:
                fh.write(detail)
        except FileExistsError:
            return False
        return True

    def lost(self, service: str) -> str:
        """Why `service` was given up on during this run, or ""."""
        try:
            return _lost_file(self.run_id, service).read_text()
        except FileNotFoundError:
            return ""

    def remove(self) -> None:
        """Delete the state directory of a run that has ended (a swept dead run)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def workerinput(self) -> dict[str, Any]:
        """What the controller hands each xdist worker so that it joins this run."""
        return {_RUN_ID_KEY: self.run_id}

    def lock(self, name: str, timeout: float) -> FileLock:
        return FileLock(self.directory / f"{name}.lock", timeout=timeout)

    def service_lock(self, service: str, timeout: float) -> FileLock:
        """Held by whoever is starting `service` until it answers. Not per thread:
        the provider thread that saw it answer lets go of it."""
        path = self.directory / f"service-{service}.lock"
        return FileLock(path, timeout=timeout, thread_local=False)

    def read_endpoints(self) -> dict[str, ServiceEndpoint]:
        data = self._read_json("services.json", {})
        return {name: ServiceEndpoint.from_json(item) for name, item in data.items()}

    def add_endpoint(self, endpoint: ServiceEndpoint) -> None:
        with self.lock("services", timeout=30):
            data = self._read_json("services.json", {})
            data[endpoint.service] = endpoint.to_json()
            self._write_json("services.json", data)

    def record(self, kind: str, value: Any) -> None:
        """Write this worker's value of `kind` (test counts, first-test time, ...)."""
        self._write_json(f"{kind}-{self.worker}.json", value)

    def recorded(self, kind: str, default: Any) -> Any:
        """This worker's value of `kind`, as `record` last wrote it."""
        return self._read_json(f"{kind}-{self.worker}.json", default)

    def collect(self, kind: str) -> list[Any]:
        """Every worker's value of `kind`."""
        return [
            json.loads(p.read_text())
            for p in sorted(self.directory.glob(f"{kind}-*.json"))
        ]

    def remember(self, kind: str, line: str) -> None:
        """Append a line to a run-wide list, e.g. a database this run created."""
        with (
            self.lock(kind, timeout=30),
            (self.directory / f"{kind}.txt").open("a") as fh,
        ):
            fh.write(line + "\n")

    def remembered(self, kind: str) -> list[str]:
        path = self.directory / f"{kind}.txt"
        return path.read_text().splitlines() if path.exists() else []

    def finish(self) -> None:
        """Remove the state directory (owner only, after every cleanup ran).

        Kept when a service was lost or a clean-up step failed: a later run then
        sweeps what this one could not (sweep.py), and owner.pid says it is over.
        Kept, too, while the janitor has containers or servers of the run to remove
        (after Ctrl-C): it reads which from here once this process is gone, then
        removes the folder. Removed now, a server started a moment before the end
        would be missing from what it read while waiting, and would run on.
        """
        if any(self.directory.glob("lost-*.txt")) or self.remembered("unclean"):
            return
        janitor_started = (self.directory / "janitor.started").exists()
        if janitor_started and not released_marker(self.directory).exists():
            (self.directory / FINISHED_MARK).touch()
            return
        for path in sorted(self.directory.glob("*"), reverse=True):
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()

    def _read_json(self, name: str, default: Any) -> Any:
        path = self.directory / name
        return json.loads(path.read_text()) if path.exists() else default

    def _write_json(self, name: str, value: Any) -> None:
        # Write then rename: a reader never sees half a file. Named per thread:
        # two threads of a process may write at once (services start in both).
        target = self.directory / name
        scratch = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        scratch.write_text(json.dumps(value, indent=1))
        scratch.replace(target)
