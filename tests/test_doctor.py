"""tests/integration/doctor.py: standard library only, says what each service would use."""

from __future__ import annotations

import contextlib
import runpy
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import docker
import pytest
from generated_suite import clean_environment
from rendering import ALL_SERVICES, render


def doctor(project: Path, command: str = "report", **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-I", "tests/integration/doctor.py", command],  # -I: stdlib only
        cwd=project,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_doctor_reports_urls_docker_and_the_command(
    tmp_path: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=ALL_SERVICES)
    report = doctor(
        project,
        IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"],
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    assert "postgres   IT_POSTGRES_URL is set: that server is used" in report
    assert "docker     installed but not answering" in report
    assert "rabbitmq   missing: set IT_AMQP_URL" in report
    assert "pytest tests/integration -n auto" in report


@pytest.mark.docker
def test_doctor_with_docker_says_containers_are_started(tmp_path: Path) -> None:
    project = render(tmp_path / "shop", services=["redis"], default_provider="compose")
    report = doctor(project)
    assert "docker     answers" in report
    assert "redis      a container is started (compose)" in report


@pytest.mark.docker
def test_doctor_says_whether_the_image_is_here_or_cannot_be_pulled(
    tmp_path: Path, images: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=["postgres"])
    here = doctor(project, IT_POSTGRES_IMAGE=images["IT_POSTGRES_IMAGE"])
    assert f"image {images['IT_POSTGRES_IMAGE']} is on this machine" in here
    nowhere = doctor(project, IT_POSTGRES_IMAGE="registry.invalid/postgres:0")
    assert "image registry.invalid/postgres:0 is not here and cannot be pulled" in nowhere
    assert "set IT_POSTGRES_IMAGE to a mirror" in nowhere


def test_doctor_names_missing_drivers(tmp_path: Path) -> None:
    project = render(tmp_path / "shop", services=["postgres", "mysql"])
    answers = runpy.run_path(str(project / "tests/integration/harness/answers.py"))
    report = doctor(project)
    missing = [m for m in answers["REQUIRED_MODULES"] if find_spec(m) is None]
    assert "pymysql" in answers["REQUIRED_MODULES"]
    if missing:
        assert f"drivers    missing {', '.join(missing)}" in report
    else:
        assert "drivers    installed" in report


ALEMBIC_INI = "[alembic]\nscript_location = %(here)s/migrations\n"
# What `alembic init` writes, and many apps keep: an engine of its own, always.
OWN_ENGINE_ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
"""


def test_doctor_shows_the_env_py_change_alembic_needs(tmp_path: Path) -> None:
    project = render(tmp_path / "shop", services=["postgres"])
    (project / "alembic.ini").write_text(ALEMBIC_INI)
    env_py = project / "migrations/env.py"
    env_py.parent.mkdir()
    env_py.write_text(OWN_ENGINE_ENV_PY)

    report = doctor(project)
    assert f"{env_py} never uses the connection it is handed" in report
    for line in (
        "def run_migrations_online() -> None:",
        'connection = config.attributes.get("connection")',
        "if connection is not None:  # handed one: the integration suite's database",
        "context.configure(connection=connection, target_metadata=target_metadata)",
    ):
        assert line in report

    # Changed as shown, env.py passes: only the ALEMBIC_INI hint is left.
    env_py.write_text(
        OWN_ENGINE_ENV_PY.replace(
            "    connectable = engine_from_config(",
            '    given = config.attributes.get("connection")\n'
            "    connectable = engine_from_config(",
        )
    )
    report = doctor(project)
    assert "never uses the connection" not in report
    assert "name it in tests/integration/schema.py (ALEMBIC_INI)" in report


@pytest.mark.docker
def test_kept_services_are_listed_and_stopped_with_one_command(
    tmp_path: Path, images: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=["redis"])
    client = docker.from_env()
    label = "io.github.copier-integration-tests"
    image = images["IT_REDIS_IMAGE"]
    kept = client.containers.create(
        image, command=["sleep", "60"], labels={f"{label}.project": "shop", f"{label}.keep": "true"}
    )
    try:
        listed = doctor(project, command="kept")
        assert kept.short_id in listed
        stopped = doctor(project, command="stop")
        assert "removed" in stopped
        remaining = client.containers.list(all=True, filters={"label": f"{label}.keep=true"})
        assert [c for c in remaining if c.labels.get(f"{label}.project") == "shop"] == []
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            kept.remove(force=True)
