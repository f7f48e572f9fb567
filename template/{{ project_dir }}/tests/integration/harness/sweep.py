"""Sweep what runs that died left on shared servers and on this machine.

Only what is provably theirs: a run of this project whose state folder is on this
machine and whose pytest process is gone. Its folder lists what it made (databases,
templates, queues and exchanges, key prefixes, containers, embedded servers); they
are removed on the server this run uses, if it is the same one, and the folder goes
once nothing of it is left anywhere this run can reach.
"""

from __future__ import annotations

import dataclasses

from .catalog import SERVICES
from .endpoints import ServiceEndpoint
from .janitor import clean_up_after
from .run_state import RunState
from .settings import RunSettings


def sweep_dead_runs(
    project: str, endpoints: dict[str, ServiceEndpoint], settings: RunSettings
) -> list[str]:
    """Clean up after dead runs of `project`; returns notes for the run summary."""
    notes = []
    for dead in RunState.dead_runs(project):
        clean_up_after(dead.directory)
        pending = _sweep_servers(dead, endpoints, settings)
        if pending:
            notes.append(
                f"run {dead.run_id} died; its {', '.join(pending)} leftovers are "
                "swept by a run that uses the same server"
            )
        else:
            dead.remove()
            notes.append(f"swept what run {dead.run_id} left behind (it died)")
    return notes


def _sweep_servers(
    dead: RunState, endpoints: dict[str, ServiceEndpoint], settings: RunSettings
) -> list[str]:
    """Sweep the dead run's objects on servers we share; the services still pending."""
    theirs = dead.read_endpoints()
    keep = bool(dead.description().get("keep"))
    as_they_ran = dataclasses.replace(settings, keep_services=keep)
    pending = []
    for name, old in theirs.items():
        spec = SERVICES.get(name)
        if spec is None or spec.release_run is None or not old.usable:
            continue
        if old.started_by_suite and not keep:
            continue  # its own container or server: the janitor removed all of it
        ours = endpoints.get(name)
        if ours is None or not ours.usable or ours.url != old.url:
            pending.append(name)
            continue
        try:
            spec.release_run(ours, dead, as_they_ran)
        except Exception:  # noqa: BLE001 - try again on a later run
            pending.append(name)
    return pending
