"""Start the services a run needs once, concurrently; release them once at the end."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from filelock import FileLock, Timeout

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
# The first test waits on a service's lock while it starts (an early start, another
# worker): filelock's default 0.05 s poll would add up to that to every cold start.
_LOCK_POLL_SECONDS = 0.01
_STARTUP_RECORD = threading.Lock()


def ensure_services(
    names: Sequence[str], run: RunState, settings: RunSettings
) -> dict[str, ServiceEndpoint]:
    """Endpoints for `names`, each once it has answered (or failed).

    Each service has a lock of its own: the first thread or worker to take it starts
    the service, and lets go of it as soon as that one answers. A test that needs
    PostgreSQL waits for PostgreSQL, not for the RabbitMQ started beside it.
    """
    lock_timeout = settings.startup_timeout * 3 + 60
    known = run.read_endpoints()
    pending = sorted(set(names) - known.keys())
    while pending:
        claimed = _claim(run, pending, lock_timeout)
        if claimed:
            _start_claimed(claimed, run, settings)
        else:  # all started elsewhere: wait for the first, then look again
            _wait_for(run, pending[0], lock_timeout, names)
        known = run.read_endpoints()
        pending = [name for name in pending if name not in known]
    return {name: known[name] for name in names}


def _claim(run: RunState, names: Sequence[str], timeout: float) -> dict[str, FileLock]:
    """The locks of those `names` no one is starting or has started: ours to start."""
    claimed = {}
    for name in names:
        lock = run.service_lock(name, timeout)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # being started by another thread or worker
        if name in run.read_endpoints():
            lock.release()  # started while we looked
        else:
            claimed[name] = lock
    return claimed


def _wait_for(run: RunState, name: str, timeout: float, names: Sequence[str]) -> None:
    """Until whoever is starting `name` has it answering (or has given up)."""
    lock = run.service_lock(name, timeout)
    if threading.current_thread() is threading.main_thread():
        # Meanwhile, import what the first test of `names` will need. Not from a
        # thread: beside the tests' own imports of the same package, one of them
        # would see it half-initialised ("partially initialized module").
        _import_first_use_modules(names)
    try:
        lock.acquire(poll_interval=_LOCK_POLL_SECONDS)
    except Timeout:
        raise IntegrationSetupError(
            f"waited {timeout:.0f} s for another pytest worker to start {name}; "
            "raise IT_STARTUP_TIMEOUT if your images are slow to pull"
        ) from None
    lock.release()


def _start_claimed(
    claimed: dict[str, FileLock], run: RunState, settings: RunSettings
) -> None:
    """Start the claimed services together; each one's endpoint is written, and its
    lock let go, as soon as it answers (provider threads call `settle`)."""
    guard = threading.Lock()

    def settle(endpoint: ServiceEndpoint) -> None:
        with guard:
            lock = claimed.pop(endpoint.service, None)
            if lock is None:
                return  # settled already (or the start was given up)
            run.add_endpoint(endpoint)
            lock.release()

    started = time.time()  # wall-clock: spans from other workers are compared
    try:
        specs = [SPECS[name] for name in claimed]
        new = start_services(specs, run, settings, on_endpoint=settle)
        for endpoint in new.values():
            settle(endpoint)
    finally:
        with guard:
            unsettled = list(claimed.items())
            claimed.clear()
        for _, lock in unsettled:
            lock.release()
    if unsettled:  # a provider returned no endpoint for them: a harness bug
        names = ", ".join(name for name, _ in unsettled)
        raise IntegrationSetupError(f"no endpoint came back for {names}")
    _record_startup(run, started, time.time())


def sweep_after_dead_runs(run: RunState, settings: RunSettings) -> None:
    """Owner, main thread, at the end of a run that had services: what dead runs of
    this project left on them (sweep.py). Not from the thread that starts services:
    a dead run's services may need clients (and SQLAlchemy dialects) that this run
    never imported, and that thread must import nothing (MainThreadImports)."""
    endpoints = run.read_endpoints()
    if not any(endpoint.usable for endpoint in endpoints.values()):
        return  # servers this run could not reach: the next run sweeps
    for note in sweep_dead_runs(answers.PROJECT_NAME, endpoints, settings):
        run.remember("notes", note)


def _record_startup(run: RunState, started: float, ended: float) -> None:
    # When the run was starting services, as spans of wall-clock time: fixtures that
    # ask for services one at a time start them in turns, and a test's fixture may
    # start one while the start-up thread starts the others (startup_seconds).
    with _STARTUP_RECORD:
        spans = run.recorded("startup", {}).get("spans", [])
        run.record("startup", {"spans": [*spans, [started, ended]]})


def startup_seconds(run: RunState) -> float:
    """How long the run spent starting services: the spans of every thread and
    worker, those that overlap counted once (adding them up said 20 s for four
    services that all gave up after 10 s, in two threads)."""
    spans = sorted(
        (float(start), float(end))
        for record in run.collect("startup")
        for start, end in record.get("spans", [])
    )
    total, covered_to = 0.0, float("-inf")
    for start, end in spans:
        total += max(0.0, end - max(start, covered_to))
        covered_to = max(covered_to, end)
    return total


def import_clients(names: Sequence[str]) -> None:
    """Main thread, before or just after a thread starts `names`: their client
    packages, whole, before collection or a test can import a part of them."""
    # A missing client fails the probe, which says which package to install.
    _import_quietly(m for name in names for m in SPECS[name].client_modules)


def _import_first_use_modules(names: Sequence[str]) -> None:
    # A module that is missing fails where the test imports it, with its name.
    _import_quietly(m for name in names for m in SPECS[name].first_use_imports)


def _import_quietly(modules: Iterable[str]) -> None:
    for module in modules:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def start_services(
    specs: Sequence[ServiceSpec],
    run: RunState,
    settings: RunSettings,
    on_endpoint: Callable[[ServiceEndpoint], None] | None = None,
) -> dict[str, ServiceEndpoint]:
    """All providers start at once: the run waits for the slowest, not the sum.
    Providers hand each endpoint to `on_endpoint` as soon as it is known."""
    plan, endpoints = assign_providers(specs, settings)
    for name in plan:  # before anything starts: the owner releases only these
        run.remember("providers", name)
    if _STARTING_PROVIDERS & plan.keys():
        run.ensure_janitor()

    def provide(name: str, specs: list[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        provider = make_provider(name, run, settings)
        if on_endpoint is not None:
            provider.on_endpoint = on_endpoint
        return provider.provide(specs)

    results = map_concurrently(lambda item: provide(*item), list(plan.items()))
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
