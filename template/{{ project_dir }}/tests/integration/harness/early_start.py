"""Starting services before the tests ask for them, in threads beside pytest.

Before collection: what the same command needed last time (pytest's cache, like
--lf), or else what the selected tests' source asks for (forecast.py), while pytest
imports and collects (and xdist boots its workers): a cold start then waits for its
service, not for it plus the start-up. After collection: what the collected tests
need, all at once, while the first tests run; each test waits in its fixtures for its
own services only. Collection decides: a service started early that it no longer
needs is released at the end like any other.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field

import pytest

from .catalog import SPECS
from .concurrency import start_thread
from .docker_engine import load_sdk
from .forecast import forecast
from .providers import kept_record
from .providers.selection import asks_docker
from .run_state import RunState
from .service_startup import ensure_services, import_clients
from .settings import RunSettings

_LAST_COMMAND = "integration/last-command"


@dataclass
class EarlyStarts:
    """This process's start threads, from before collection to the end."""

    config: pytest.Config
    run: RunState
    settings: RunSettings
    threads: list[threading.Thread] = field(default_factory=list)

    def before_collection(self) -> None:
        """What this command used last time, else what its tests' source asks for."""
        remembered = _remembered_selection(self.config)
        if remembered is not None:
            names, reason = remembered, "as this command did last"
        else:
            names, reason = forecast(self.config), "as the selected tests' fixtures ask"
        # A service only named by a URL answers at once anyway: nothing to win there.
        names = [n for n in names if n in SPECS and not SPECS[n].configured_url()]
        if names:
            self._start(names, note=f"started early, {reason}: {', '.join(names)}")

    def after_collection(self, needed: Sequence[str]) -> None:
        """What the collected tests need (waiting for an early start's locks)."""
        # Their clients first: nothing holds MAIN_THREAD_IMPORTS any more, and the
        # start's thread must not import them itself (concurrency.py).
        import_clients(needed)
        self._start(needed)

    def _start(self, names: Sequence[str], note: str = "") -> None:
        def start() -> None:
            # Failures are not raised here: each test's `endpoint` asks again and
            # reports them.
            with suppress(Exception):
                ensure_services(names, self.run, self.settings)
                if note:
                    self.run.remember("notes", note)

        known = self.run.read_endpoints()
        if _needs_sdk(self.settings, [n for n in names if n not in known]):
            # Imported first, here, rather than by the start's thread beside
            # collection's imports (taking turns with them for the GIL), it lets the
            # container be created ~0.15 s sooner; collection has that time to
            # spare: it then waits for the service.
            load_sdk()
        self.threads.append(start_thread(start, name="start"))
        # Before collection: while the thread creates containers; it probes once they
        # are imported (`register` holds MAIN_THREAD_IMPORTS until the fixture
        # modules are too). After it, they are imported already: nothing to do.
        import_clients(names)

    def finish(self) -> None:
        """Let a start under way end and write its endpoints (an xdist worker too:
        killed half-way, its services would be started again by another)."""
        for thread in self.threads:
            thread.join(self.settings.startup_timeout)

    @property
    def under_way(self) -> bool:
        """A start still under way may yet create a container."""
        return any(thread.is_alive() for thread in self.threads)


def remember_selection(config: pytest.Config, used: Counter[str]) -> None:
    """The services this command's tests used, for its next run."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        services = sorted(name for name, count in used.items() if count)
        cache.set(_LAST_COMMAND, {"command": _command(config), "services": services})


def _remembered_selection(config: pytest.Config) -> list[str] | None:
    """The services the same command used last time; None after another command,
    or when the cache is off."""
    cache = getattr(config, "cache", None)
    remembered = cache.get(_LAST_COMMAND, {}) if cache is not None else {}
    if not isinstance(remembered, dict) or remembered.get("command") != _command(
        config
    ):
        return None
    names = remembered.get("services", [])
    return [name for name in names if isinstance(name, str)]


def _command(config: pytest.Config) -> str:
    arguments = json.dumps(list(config.invocation_params.args))
    return hashlib.sha256(arguments.encode()).hexdigest()


def _needs_sdk(settings: RunSettings, names: Sequence[str]) -> bool:
    """Whether starting `names` loads the Docker SDK. Not for services with a URL,
    nor for kept containers on record (kept_record.py), unless IT_PROVIDER=auto,
    which asks Docker whether it answers before it chooses."""
    unset = [name for name in names if not SPECS[name].configured_url()]
    if not unset or not asks_docker(settings):
        return False
    return settings.provider == "auto" or not all(map(kept_record.recorded, unset))
