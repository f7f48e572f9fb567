"""Services from tests/integration/compose.yaml, with Compose v2 or v1.

testcontainers' DockerCompose only speaks `docker compose` (v2); many CI images and
older machines only have `docker-compose` (v1), so this module drives the CLI itself.
Ports are published on 127.0.0.1 with ephemeral host ports and read back with
`compose port`, so two checkouts or two runs never fight over 5432.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from .. import answers
from ..docker_engine import ExitWatch, docker_client, docker_problem
from ..endpoints import ServiceEndpoint
from ..errors import Cause, ServiceExitedError
from ..run_state import SUITE_DIR, checkout_id
from ..service_spec import ServiceSpec
from .base import LOG_LINES, Provider, log_tail

COMPOSE_FILE = SUITE_DIR / "compose.yaml"
_QUICK_COMMAND_SECONDS = 60
# `up` may pull images first; the startup timeout only counts once they run.
_PULL_SECONDS = 600


@functools.cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` (v2) when it works, else `docker-compose` (v1), else ()."""
    if shutil.which("docker"):
        # docker is looked up on PATH on purpose, as a user's shell would.
        probe = subprocess.run(
            ["docker", "compose", "version"],  # noqa: S607
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    return ()


class ComposeProvider(Provider):
    name = "compose"

    @property
    def kept_project(self) -> str:
        """Compose project that --it-keep runs share; stable per checkout."""
        return f"it-{answers.PROJECT_NAME}-{checkout_id()}"

    @property
    def run_project(self) -> str:
        """Compose project of a run that does not keep its services."""
        return f"{self.kept_project}-{self.run.run_id}"

    def provide(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        problem = docker_problem() or ("" if compose_command() else _NO_COMPOSE)
        if problem:
            return {
                s.name: self.failure(
                    s,
                    Cause.NO_DOCKER,
                    f"{s.name}: {Cause.NO_DOCKER.value} (compose needs it): {problem}",
                )
                for s in specs
            }
        endpoints = {
            s.name: e for s in specs if (e := self._kept_endpoint(s)) is not None
        }
        to_start = [spec for spec in specs if spec.name not in endpoints]
        if to_start:
            endpoints.update(self._start(to_start))
        return endpoints

    def release(self) -> None:
        for project in self.run.remembered("compose-projects"):
            if project == self.run_project:
                self._compose(
                    project, "down", "--volumes", "--remove-orphans", "--timeout", "3"
                )

    def keep_hint(self) -> str:
        return "python tests/integration/doctor.py stop"

    def _start(self, specs: Sequence[ServiceSpec]) -> dict[str, ServiceEndpoint]:
        project = self.kept_project if self.settings.keep_services else self.run_project
        # Remember first: if `up` is interrupted half-way, the owner still runs `down`.
        self.run.remember("compose-projects", project)
        started = time.monotonic()
        failures: dict[str, ServiceEndpoint] = {}
        if self._up(project, specs).returncode != 0:
            # One `up` for all is fastest; when it fails, find out which service broke
            # it, so that one bad image does not take the others down with it.
            for spec in specs:
                up = self._up(project, [spec])
                if up.returncode != 0:
                    failures[spec.name] = self._up_failure(spec, up)
        running = [spec for spec in specs if spec.name not in failures]
        results = self.each(lambda s: self._await(project, s, started), running)
        return {**failures, **results}

    def _up_failure(
        self, spec: ServiceSpec, up: subprocess.CompletedProcess[str]
    ) -> ServiceEndpoint:
        output = up.stderr or up.stdout
        if _PULL_FAILED.search(output):
            return self.image_failure(spec, f"\n{log_tail(output)}")
        return self.failure(
            spec,
            Cause.FAILED_TO_START,
            f"{spec.name}: {Cause.FAILED_TO_START.value}: `compose up` said:\n"
            f"{log_tail(output)}",
        )

    def _up(
        self, project: str, specs: Sequence[ServiceSpec]
    ) -> subprocess.CompletedProcess[str]:
        return self._compose(
            project,
            "up",
            "--detach",
            *(spec.name for spec in specs),
            timeout=self.settings.startup_timeout + _PULL_SECONDS,
            images=specs,
        )

    def _await(
        self, project: str, spec: ServiceSpec, started: float
    ) -> ServiceEndpoint:
        exited = ExitWatch(lambda: _service_container(project, spec))
        try:
            url = self._published_url(project, spec, exited)
            self.wait_ready(
                spec,
                url,
                timeout=self.settings.startup_timeout,
                just_started=True,
                exited=exited,
            )
        except Exception as exc:  # noqa: BLE001 - reported with the service's log tail
            logs = self._compose(
                project, "logs", "--no-color", "--tail", str(LOG_LINES), spec.name
            )
            return self.start_failure(
                spec, exc, "compose service", log_tail(logs.stdout)
            )
        return self.started(spec, url, started)

    def _kept_endpoint(self, spec: ServiceSpec) -> ServiceEndpoint | None:
        """The service of an earlier --it-keep run of this checkout, if it answers."""
        running = self._compose(self.kept_project, "ps", "-q", spec.name)
        if running.returncode != 0 or not running.stdout.strip():
            return None
        try:
            url = self._published_url(self.kept_project, spec)
        except RuntimeError:  # not published (any more): start a fresh one instead
            return None
        return self.kept_if_answering(spec, url)

    def _published_url(
        self, project: str, spec: ServiceSpec, exited: ExitWatch | None = None
    ) -> str:
        result = self._compose(project, "port", spec.name, str(spec.port))
        address = (
            result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        )
        host, _, port = address.rpartition(":")
        if result.returncode != 0 or not port.isdigit():
            # A container that already exited publishes no port: say that instead.
            gone = exited.at_once() if exited is not None else ""
            if gone:
                raise ServiceExitedError(f"{spec.name}: {gone}")
            raise RuntimeError(
                f"`compose port {spec.name} {spec.port}` said {address!r}"
            )
        if host in ("0.0.0.0", "::", "[::]", ""):  # noqa: S104 - a published wildcard
            host = "127.0.0.1"
        return spec.url_for(host, int(port))

    def _compose(
        self,
        project: str,
        *args: str,
        timeout: float = _QUICK_COMMAND_SECONDS,
        images: Sequence[ServiceSpec] = (),
    ) -> subprocess.CompletedProcess[str]:
        # The compose file reads IT_<SERVICE>_IMAGE; pass the resolved image so the
        # pins in answers.py and the file can never disagree at run time.
        env = {**os.environ, **{spec.image_env: spec.image() for spec in images}}
        command = [
            *compose_command(),
            "--project-name",
            project,
            "--file",
            str(COMPOSE_FILE),
            *args,
        ]
        try:
            return subprocess.run(  # noqa: S603 - our own command line
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(
                command,
                returncode=124,
                stdout="",
                stderr=f"timed out after {timeout:.0f} s",
            )


# What Docker and Compose (v1 and v2) say when an image cannot be had.
_PULL_FAILED = re.compile(
    r"pull access denied|manifest unknown|not found: manifest|failed to resolve|"
    r"no such host|repository does not exist|error pulling image|"
    r"failed to do request|i/o timeout|unauthorized|denied: ",
    re.IGNORECASE,
)
_NO_COMPOSE = (
    "Docker Compose is not installed: install the compose plugin (`docker compose`) "
    "or docker-compose"
)


def _service_container(project: str, spec: ServiceSpec) -> Any:
    """The container of `spec` in `project` (docker-py's), or None: Compose v1 and
    v2 both label their containers with the project and service."""
    labels = [
        f"com.docker.compose.project={project}",
        f"com.docker.compose.service={spec.name}",
    ]
    found = docker_client().client.containers.list(all=True, filters={"label": labels})
    return found[0] if found else None
