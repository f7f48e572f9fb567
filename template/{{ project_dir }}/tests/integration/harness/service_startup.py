"""Start the services a run needs once, concurrently; release them once at the end."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from filelock import Timeout

from . import answers
from .catalog import SPECS
from .concurrency import map_concurrently, start_thread
from .endpoints import ServiceEndpoint
from .errors import IntegrationSetupError
from .providers.selection import PROVIDER_CLASSES, assign_providers, make_provider
from .run_state import RunState
from .service_spec import ServiceSpec
from .settings import RunSettings
from .sweep import sweep_dead_runs

# Providers that start something the janitor must remove should the run die.
_STARTING_PROVIDERS = frozenset({"testcontainers", "compose", "embedded"})
# After Ctrl-C, clean-up on servers we did not start gets this long per call.
_INTERRUPTED_TIMEOUT_SECONDS = 1.0
# The first test waits on this lock while services start (an early start, another
# worker): filelock's default 0.05 s poll would add up to that to every cold start.
_LOCK_POLL_SECONDS = 0.01


def ensure_services(
    names: Sequence[str], run: RunState, settings: RunSettings
) -> dict[str, ServiceEndpoint]:
    """Endpoints for `names`; the first worker to ask starts what is missing."""
    # Another worker may be pulling images and starting every service right now.
    lock_timeout = settings.startup_timeout * 3 + 60
    try:
        with _services_lock(run, lock_timeout, names):
            known = run.read_endpoints()
            missing = [SPECS[name] for name in names if name not in known]
            if missing:
                started = time.monotonic()
                new = start_services(missing, run, settings)
                known.update(new)
                run.write_endpoints(known)
                # Fixtures that ask for services one at a time start them in turns.
                earlier = run.recorded("startup", {}).get("seconds", 0.0)
                seconds = earlier + time.monotonic() - started
                run.record("startup", {"seconds": seconds})
                for note in sweep_dead_runs(answers.PROJECT_NAME, new, settings):
                    run.remember("notes", note)
    except Timeout:
        raise IntegrationSetupError(
            f"waited {lock_timeout:.0f} s for another pytest worker to start services; "
            "raise IT_STARTUP_TIMEOUT if your images are slow to pull"
        ) from None
    return {name: known[name] for name in names}


@contextlib.contextmanager
def _services_lock(
    run: RunState, timeout: float, names: Sequence[str]
) -> Iterator[None]:
    """The run's services lock. While another thread or worker holds it (starting
    services), this one imports what the first test of `names` will need."""
    lock = run.lock("services", timeout=timeout)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _import_first_use_modules(names)
        lock.acquire(poll_interval=_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


def _import_first_use_modules(names: Sequence[str]) -> None:
    for name in names:
        for module in SPECS[name].first_use_imports:
            # A module that is missing fails where the test imports it, with its name.
            with contextlib.suppress(ImportError):
                importlib.import_module(module)


def start_services(
    specs: Sequence[ServiceSpec], run: RunState, settings: RunSettings
) -> dict[str, ServiceEndpoint]:
    """All providers start at once: the run waits for the slowest, not the sum."""
    plan, endpoints = assign_providers(specs, settings)
    for name in plan:  # before anything starts: the owner releases only these
        run.remember("providers", name)
    if _STARTING_PROVIDERS & plan.keys():
        run.ensure_janitor()
    results = map_concurrently(
        lambda item: make_provider(item[0], run, settings).provide(item[1]),
        list(plan.items()),
    )
    for result in results:
        endpoints.update(result)
    return endpoints


def release_services(
    run: RunState, settings: RunSettings, *, interrupted: bool
) -> None:
    """Owner, at the end: what tests made on servers, then what providers started.

    A failing step is reported in the run summary and the others still run: a
    server that cannot be cleaned must not keep its containers alive. Another
    Ctrl-C does not stop this. After an interrupt, containers and embedded servers
    are left to the janitor, which removes them as soon as this process has ended.
    """
    if interrupted:
        settings = dataclasses.replace(
            settings,
            call_timeout=_INTERRUPTED_TIMEOUT_SECONDS,
            connect_timeout=_INTERRUPTED_TIMEOUT_SECONDS,
        )
    with _interrupts_deferred():
        to_clean = []
        for name, endpoint in run.read_endpoints().items():
            spec = SPECS.get(name)
            if spec is None or spec.release_run is None or not endpoint.usable:
                continue
            removed_anyway = endpoint.started_by_suite and not settings.keep_services
            if run.lost(name) or (interrupted and removed_anyway):
                continue  # gone, or about to be removed with its container
            to_clean.append((spec, endpoint))
        if interrupted:
            _release_quickly(run, settings, to_clean)
            return
        for spec, endpoint in to_clean:
            _release_run(run, settings, spec, endpoint)
        for name in dict.fromkeys(run.remembered("providers")):
            if name in PROVIDER_CLASSES:
                provider = make_provider(name, run, settings)
                _attempt(run, f"{name} release", provider.release)


def _release_run(
    run: RunState, settings: RunSettings, spec: ServiceSpec, endpoint: ServiceEndpoint
) -> None:
    if spec.release_run is not None:
        _attempt(
            run, f"{spec.name} clean-up", spec.release_run, endpoint, run, settings
        )


def _release_quickly(
    run: RunState,
    settings: RunSettings,
    to_clean: list[tuple[ServiceSpec, ServiceEndpoint]],
) -> None:
    """After Ctrl-C: clean up what answers within a moment, all at once, and go.

    A service that does not answer (frozen, gone) would hold the run for its timeouts:
    its clean-up is abandoned, and the run keeps its state folder so that the next
    run sweeps what is left (sweep.py).
    """
    threads = [
        start_thread(_release_run, run, settings, spec, endpoint, name="release")
        for spec, endpoint in to_clean
    ]
    deadline = time.monotonic() + _INTERRUPTED_TIMEOUT_SECONDS
    for (spec, _), thread in zip(to_clean, threads, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            run.remember("unclean", f"{spec.name}: no answer after the interrupt")


def _please_wait(signum: int, frame: Any) -> None:
    del signum, frame
    sys.stderr.write("\nintegration services: cleaning up, one moment...\n")


def defer_interrupts() -> None:
    """Ctrl-C from now on says "please wait" instead of cutting the clean-up short."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _please_wait)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C during clean-up says "please wait" instead of leaving things behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _please_wait)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _attempt(run: RunState, what: str, step: Callable[..., None], *args: Any) -> None:
    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - reported, then the next step runs
        first_line = next(iter(str(exc).splitlines()), "")
        run.remember("notes", f"{what} failed: {type(exc).__name__}: {first_line}")
        run.remember("unclean", what)
