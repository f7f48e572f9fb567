"""How each service of a run was provided, in a form xdist workers can share as JSON."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class ServiceEndpoint:
    """One service for this run: where it is, who provides it, or why it is missing."""

    service: str
    provider: str = ""
    url: str = ""
    ready_seconds: float = 0.0
    # Wall-clock time this was found out: for a usable service, when it answered.
    ready_at: float = field(default_factory=time.time)
    # True when this suite started the server: only then is it disposable although
    # its host is not a loopback address (containers behind a bridge gateway).
    started_by_suite: bool = False
    reused: bool = False
    # Why the service cannot be had: the first line says what, the rest what to do.
    problem: str = ""
    cause: str = ""
    problem_is_error: bool = False

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def headline(self) -> str:
        """The problem in one line, for each test that needed the service."""
        return self.problem.splitlines()[0] if self.problem else ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceEndpoint:
        return cls(**data)


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***, for logs and the run summary."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username or ''}:***"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{userinfo}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
