"""The provider seam every way of getting a service goes through."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from ..endpoints import ServiceEndpoint, masked_url
from ..readiness import wait_until_ready
from ..run_state import RunState
from ..service_spec import ServiceSpec
from ..settings import RunSettings


class Provider(ABC):
    """Starts or finds services for one run; removes what it started at the end."""

    name: ClassVar[str]

    def __init__(self, run: RunState, settings: RunSettings) -> None:
        self.run = run
        self.settings = settings

    @abstractmethod
    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        """Endpoints for `specs`, concurrently; failures are problems, not raises."""

    def release(self) -> None:  # noqa: B027 - providers that start nothing release nothing
        """Remove everything this run started, unless services are kept (--it-keep)."""

    def keep_hint(self) -> str:
        """How to remove services kept with --it-keep ("" when nothing to say)."""
        return ""

    def wait_ready(self, spec: ServiceSpec, url: str, *, timeout: float) -> float:
        return wait_until_ready(
            lambda: spec.probe(url),
            what=f"{spec.name} at {masked_url(url)}",
            timeout=timeout,
        )

    def failure(self, spec: ServiceSpec, problem: str) -> ServiceEndpoint:
        """A provider that was asked for and failed is an error, never a silent skip."""
        return ServiceEndpoint(
            service=spec.name,
            provider=self.name,
            problem=problem,
            problem_is_error=True,
        )
