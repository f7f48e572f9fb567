"""Sweep what runs that died left behind, on this machine and on the servers they used.

Only what is provably theirs: a run of this project whose state folder is on this
machine and whose pytest process is gone. Its folder lists what it made (databases,
templates, queues and exchanges, key prefixes, containers, embedded servers). Objects
on a server are named after the run, so removing them never touches anyone else's.
The folder goes once nothing of it is left anywhere the sweep can reach; a server
that does not answer is tried again by the next run; a folder no sweep could finish
in a day is given up.
"""

from __future__ import annotations

import dataclasses
import time

from .catalog import SPECS
from .endpoints import ServiceEndpoint
from .janitor import clean_up_after
from .run_state import RunState
from .settings import RunSettings

# A sweep must not slow a run down much: short limits, and it tries again next time.
_SWEEP_TIMEOUT_SECONDS = 2.0
_GIVE_UP_AFTER_SECONDS = 24 * 3600


def sweep_dead_runs(
    project: str, endpoints: dict[str, ServiceEndpoint], settings: RunSettings
) -> list[str]:
    """Clean up after dead runs of `project`; returns notes for the run summary."""
    quick = dataclasses.replace(
        settings,
        call_timeout=_SWEEP_TIMEOUT_SECONDS,
        connect_timeout=_SWEEP_TIMEOUT_SECONDS,
    )
    notes = []
    for dead in RunState.dead_runs(project):
        clean_up_after(dead.directory)
        pending = _sweep_servers(dead, endpoints, quick)
        if not pending or _age(dead) > _GIVE_UP_AFTER_SECONDS:
            dead.remove()
            notes.append(f"swept what run {dead.run_id} left behind (it had died)")
    return notes


def _sweep_servers(
    dead: RunState, endpoints: dict[str, ServiceEndpoint], settings: RunSettings
) -> list[str]:
    """Sweep the dead run's objects server by server; the services still pending."""
    keep = bool(dead.description().get("keep"))
    as_they_ran = dataclasses.replace(settings, keep_services=keep)
    pending = []
    for name, old in dead.read_endpoints().items():
        spec = SPECS.get(name)
        if spec is None or spec.release_run is None or not old.usable:
            continue
        if old.started_by_suite and not keep:
            continue  # its own container or server: the janitor removed all of it
        # The same server as this run's, or the one the dead run was given.
        ours = endpoints.get(name)
        target = ours if ours is not None and ours.url == old.url else old
        try:
            spec.probe(target.url, settings.connect_timeout)
        except Exception:  # noqa: BLE001 - not answering now: try again next run
            pending.append(name)
            continue
        try:
            spec.release_run(target, dead, as_they_ran)
        except Exception:  # noqa: BLE001 - try again on a later run
            pending.append(name)
    return pending


def _age(run: RunState) -> float:
    try:
        return time.time() - (run.directory / "owner.pid").stat().st_mtime
    except OSError:
        return float("inf")
