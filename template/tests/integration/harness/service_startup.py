"""Start the services a run needs once, concurrently; release them once at the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from filelock import Timeout

from .catalog import SERVICES
from .endpoints import ServiceEndpoint
from .errors import IntegrationSetupError
from .providers.selection import PROVIDER_CLASSES, assign_providers, make_provider
from .run_state import RunState
from .service_spec import ServiceSpec
from .settings import RunSettings


def ensure_services(
    names: Sequence[str], run: RunState, settings: RunSettings
) -> dict[str, ServiceEndpoint]:
    """Endpoints for `names`; the first worker to ask starts what is missing."""
    # Another worker may be pulling images and starting every service right now.
    lock_timeout = settings.startup_timeout * 3 + 60
    try:
        with run.lock("services", timeout=lock_timeout):
            known = run.read_endpoints()
            missing = [SERVICES[name] for name in names if name not in known]
            if missing:
                started = time.monotonic()
                known.update(start_services(missing, run, settings))
                run.write_endpoints(known)
                run.record("startup", {"seconds": time.monotonic() - started})
    except Timeout:
        raise IntegrationSetupError(
            f"waited {lock_timeout:.0f} s for another pytest worker to start services; "
            "raise IT_STARTUP_TIMEOUT if your images are slow to pull"
        ) from None
    return {name: known[name] for name in names}


def start_services(
    specs: Sequence[ServiceSpec], run: RunState, settings: RunSettings
) -> dict[str, ServiceEndpoint]:
    """All providers start at once: the run waits for the slowest, not the sum."""
    plan, endpoints = assign_providers(specs, settings)
    for name in plan:  # before anything starts: the owner releases only these
        run.remember("providers", name)
    with ThreadPoolExecutor(max_workers=max(len(plan), 1)) as pool:
        results = pool.map(
            lambda item: make_provider(item[0], run, settings).provide(item[1]),
            plan.items(),
        )
        for result in results:
            endpoints.update(result)
    return endpoints


def release_services(run: RunState, settings: RunSettings) -> None:
    """Owner, at the end: what tests made on servers, then what providers started.

    A failing step is reported in the run summary and the others still run: a
    server that cannot be cleaned must not keep its containers alive.
    """
    for name, endpoint in run.read_endpoints().items():
        spec = SERVICES.get(name)
        if spec is not None and spec.release_run is not None and endpoint.usable:
            _attempt(run, f"{name} clean-up", spec.release_run, endpoint, run, settings)
    for name in dict.fromkeys(run.remembered("providers")):
        if name in PROVIDER_CLASSES:
            _attempt(run, f"{name} release", make_provider(name, run, settings).release)


def _attempt(run: RunState, what: str, step: Callable[..., None], *args: Any) -> None:
    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - reported, then the next step runs
        run.remember("notes", f"{what} failed: {type(exc).__name__}: {exc}")
