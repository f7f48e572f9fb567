"""Which provider serves which service in this run (`--it-provider` / `IT_PROVIDER`)."""

from __future__ import annotations

from collections.abc import Sequence

from .. import answers
from ..docker_engine import docker_problem
from ..endpoints import ServiceEndpoint
from ..errors import Cause
from ..run_state import RunState
from ..service_spec import ServiceSpec
from ..settings import RunSettings
from .base import Provider
from .compose import ComposeProvider, compose_command
from .containers import ContainersProvider
from .embedded import EmbeddedProvider
from .external import ExternalProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    cls.name: cls
    for cls in (ExternalProvider, ContainersProvider, ComposeProvider, EmbeddedProvider)
}


def assign_providers(
    specs: Sequence[ServiceSpec], settings: RunSettings
) -> tuple[dict[str, list[ServiceSpec]], dict[str, ServiceEndpoint]]:
    """Group services by the provider that serves them; the rest get the reason."""
    plan: dict[str, list[ServiceSpec]] = {}
    missing: dict[str, ServiceEndpoint] = {}
    for spec in specs:
        if settings.provider != "auto":
            plan.setdefault(settings.provider, []).append(spec)
            continue
        choice, reason = _auto_choice(spec)
        if choice:
            plan.setdefault(choice, []).append(spec)
        else:
            missing[spec.name] = _unavailable(spec, reason, settings)
    return plan, missing


def asks_docker(settings: RunSettings) -> bool:
    """Whether serving a service that has no URL goes through Docker (its SDK)."""
    if settings.provider == "auto":
        return answers.DEFAULT_PROVIDER != "external"
    return settings.provider in {ContainersProvider.name, ComposeProvider.name}


def make_provider(name: str, run: RunState, settings: RunSettings) -> Provider:
    return PROVIDER_CLASSES[name](run, settings)


def _auto_choice(spec: ServiceSpec) -> tuple[str, str]:
    """auto: a URL, else containers if Docker answers, else a wheel; else why not."""
    if spec.configured_url():
        return "external", ""
    if answers.DEFAULT_PROVIDER == "external":
        return "", "this suite's default provider is external"
    problem = docker_problem()
    if not problem and answers.DEFAULT_PROVIDER == "compose" and not compose_command():
        problem = "Docker Compose is not installed"
    if not problem:
        return answers.DEFAULT_PROVIDER, ""
    if spec.embedded is None:
        return "", f"{problem}; {spec.name} has no embedded form"
    missing = spec.embedded.missing()
    if missing:
        return "", f"{problem}; embedded: {missing}"
    return "embedded", ""


def _unavailable(
    spec: ServiceSpec, reason: str, settings: RunSettings
) -> ServiceEndpoint:
    message = f"{spec.name}: {Cause.NO_PROVIDER.value}: " + (
        _nothing_is_started(spec)
        if answers.DEFAULT_PROVIDER == "external"
        else _no_container(spec, reason)
    )
    if settings.require_services:
        message += (
            " A missing service is an error here (CI=true or --it-require-services)."
        )
    return ServiceEndpoint(
        service=spec.name,
        problem=message,
        cause=Cause.NO_PROVIDER.value,
        problem_is_error=settings.require_services,
    )


def _no_container(spec: ServiceSpec, reason: str) -> str:
    return (
        f"{spec.url_env} is not set and no container can be started ({reason}). "
        f"Set {spec.url_env} (e.g. {spec.url_example}), start Docker, or deselect "
        f"these tests with -m 'not {spec.name}'."
    )


def _nothing_is_started(spec: ServiceSpec) -> str:
    """default_provider=external: Docker would change nothing under `auto`."""
    return (
        f"{spec.url_env} is not set, and this suite starts no server itself (its "
        f"default provider is external). Set {spec.url_env} to a running server "
        f"(e.g. {spec.url_example}), run with --it-provider testcontainers (or "
        f"IT_PROVIDER=testcontainers) to start one in Docker, or deselect these "
        f"tests with -m 'not {spec.name}'."
    )
