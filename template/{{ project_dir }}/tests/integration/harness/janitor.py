"""The janitor: removes a run's containers and servers once its pytest process is gone.

    python tests/integration/harness/janitor.py <run state directory>

The run starts it, detached in a session of its own (Ctrl-C in the terminal does not
reach it), before it starts any container or server. It waits until the run's owner
process has exited, by any means: a normal end, Ctrl-C pressed once or twice, kill
-9, a CI job cancelled. Then it removes what is still there: containers labelled
with the run id (unless kept), the run's compose project, embedded servers; and the
run's state folder, if the owner finished (one that died leaves it to the sweep).

testcontainers' reaper (Ryuk) does the same for containers, but it is itself a
container image that must be pulled, and it knows nothing of compose projects or
embedded servers; this needs only the Docker SDK that testcontainers installs.
Standard library otherwise: it runs as a plain script, outside the test package.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LABEL = "io.github.copier-integration-tests"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
_POLL_SECONDS = 0.5
# Calls the dead run had in flight (a container being created) land within this.
_IN_FLIGHT_SECONDS = 3.0
_STOP_WAIT_SECONDS = 10.0
# Beside the state folder (which the run removes as it ends): the owner released
# everything it started, so there is nothing to remove and no Docker client to load.
RELEASED_SUFFIX = ".released"
# What the run's state folder lists for us: embedded servers' folders, its compose
# projects, and which providers it used.
_RECORDS = ("embedded.txt", "compose-projects.txt", "providers.txt")
CONTAINER_PROVIDERS = frozenset({"testcontainers", "compose"})
# In the state folder: the owner ended and handed what it started over to the
# janitor, which removes the folder once that is gone (see RunState.finish).
FINISHED_MARK = "finished"
# A pid file missing or half written. (A named tuple: `ruff format` for Python 3.14
# would drop the parentheses of a literal one, PEP 758.)
UNREADABLE = (OSError, ValueError)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that exited but was not reaped yet (init may take seconds)."""
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    return False


def start_janitor(state_dir: Path) -> None:
    """Start the janitor for a run, detached; returns at once."""
    subprocess.Popen(  # noqa: S603 - this file, with the interpreter running the tests
        [sys.executable, str(Path(__file__).resolve()), str(state_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def stop_server(directory: Path) -> None:
    """Stop the embedded server recorded in `directory` (if any), delete the folder."""
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
        if not process_alive(pid):
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)


def remove_run_containers(run_id: str, compose_projects: list[str]) -> None:
    """Containers (and compose networks) of the run, except those kept on purpose."""
    try:
        import docker  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return
    try:
        client = docker.from_env(timeout=30)
    except docker.errors.DockerException:
        return  # no engine answers here (DOCKER_HOST): nothing we could reach
    try:
        _remove_containers(client, run_id, compose_projects)
    except docker.errors.DockerException:
        return  # the engine went away meanwhile; so did what it ran for us
    finally:
        client.close()


def _remove_containers(client: Any, run_id: str, compose_projects: list[str]) -> None:
    labelled = client.containers.list(
        all=True, filters={"label": f"{LABEL}.run={run_id}"}
    )
    for container in labelled:
        if container.labels.get(f"{LABEL}.keep") != "true":
            _quietly(container.remove, force=True, v=True)
    for project in compose_projects:
        for container in client.containers.list(
            all=True, filters={"label": f"{COMPOSE_PROJECT_LABEL}={project}"}
        ):
            _quietly(container.remove, force=True, v=True)
        for network in client.networks.list(
            filters={"label": f"{COMPOSE_PROJECT_LABEL}={project}"}
        ):
            _quietly(network.remove)


def _started_containers(providers: Iterable[str]) -> bool:
    """Whether the run's providers run containers (else Docker is left alone)."""
    return not CONTAINER_PROVIDERS.isdisjoint(providers)


def _quietly(action: Any, **kwargs: Any) -> None:
    with contextlib.suppress(Exception):
        action(**kwargs)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def clean_up_after(state_dir: Path) -> None:
    """Remove what the run at `state_dir` left running."""
    run_id = state_dir.name
    # Only the run's own compose project; a kept one (--it-keep) has no run id.
    projects = [p for p in _lines(state_dir / "compose-projects.txt") if run_id in p]
    for directory in _lines(state_dir / "embedded.txt"):
        stop_server(Path(directory))
    if _started_containers(_lines(state_dir / "providers.txt")):
        remove_run_containers(run_id, projects)


def released_marker(state_dir: Path) -> Path:
    return state_dir.with_name(state_dir.name + RELEASED_SUFFIX)


def released_by_owner(state_dir: Path) -> bool:
    """Whether the run ended having removed all it started (the marker is used up).

    Saves the Docker SDK's import and two listings (half a second of CPU) after
    every run that ended normally.
    """
    try:
        released_marker(state_dir).unlink()
    except FileNotFoundError:
        return False
    return True


class _Records:
    """What the state folder lists for the janitor, gathered over several reads."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._seen: dict[str, dict[str, None]] = {name: {} for name in _RECORDS}

    def read(self) -> None:
        for name, seen in self._seen.items():
            seen.update(dict.fromkeys(_lines(self.state_dir / name)))

    def lines(self, name: str) -> list[str]:
        return list(self._seen[name])


def main(state_dir: Path) -> int:
    try:
        owner = int((state_dir / "owner.pid").read_text())
    except UNREADABLE:
        # The run ended, released all and removed its folder before we got here:
        # its marker is still ours to use up.
        released_by_owner(state_dir)
        return 0
    # Read the records while waiting as well: should a later run's sweep take the
    # folder of a dead owner before we read it at the end, what we saw still counts.
    records = _Records(state_dir)
    while process_alive(owner):
        records.read()
        time.sleep(_POLL_SECONDS)
    if released_by_owner(state_dir):
        return 0
    records.read()
    _remove_what_is_left(state_dir.name, records)
    # Only after an owner that finished: one that died leaves the folder to the next
    # run's sweep, which also needs it for what the run made on shared servers.
    if (state_dir / FINISHED_MARK).exists():
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def _remove_what_is_left(run_id: str, records: _Records) -> None:
    run_projects = [p for p in records.lines("compose-projects.txt") if run_id in p]
    containers = _started_containers(records.lines("providers.txt"))
    for attempt in range(2):
        if attempt:
            time.sleep(_IN_FLIGHT_SECONDS)
        for directory in records.lines("embedded.txt"):
            stop_server(Path(directory))
        if containers:
            remove_run_containers(run_id, run_projects)


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
