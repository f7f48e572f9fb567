"""What happens to containers across runs: kept and reused, removed after failures and
after a startup failure of another service (Ctrl-C: test_interrupts.py)."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import import_audit
import pytest
from container_census import ContainerCensus
from generated_suite import clean_environment, run_suite
from rendering import ALL_SERVICES, render

pytestmark = [pytest.mark.slow, pytest.mark.docker]

# A project name of its own: remove_kept removes this project's containers, and
# other tests run suites on the same engine meanwhile.
PROJECT = "life"


FAILS_ON_PURPOSE = """
def test_fails_on_purpose(db_session: object) -> None:
    raise AssertionError("this test fails on purpose")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("life") / PROJECT, services=ALL_SERVICES)


@pytest.fixture
def remove_kept() -> Iterator[None]:
    """Whatever a test kept on purpose is removed afterwards, whatever happened."""
    yield
    client = docker.from_env()
    for container in client.containers.list(all=True):
        labels = container.labels
        if labels.get("io.github.copier-integration-tests.project") == PROJECT or labels.get(
            "com.docker.compose.project", ""
        ).startswith(f"it-{PROJECT}-"):
            container.remove(force=True, v=True)
    for network in client.networks.list():
        if (network.name or "").startswith(f"it-{PROJECT}-"):
            network.remove()


@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
@pytest.mark.usefixtures("remove_kept")
def test_kept_services_are_reused_by_the_next_run(
    project: Path, suite_python: Path, images: dict[str, str], provider: str
) -> None:
    pytest_command = [str(suite_python), "-m", "pytest"]
    image = images["IT_POSTGRES_IMAGE"]
    env = clean_environment(IT_PROVIDER=provider, **images)

    first = run_suite(project, pytest_command, "-m", "postgres", env={**env, "IT_KEEP": "1"})
    first.assert_all_passed(at_least=15)
    assert "kept for the next run; to remove:" in first.output

    with ContainerCensus([image], project=project) as census:
        assert census.count()[image] == 1  # still running after the first run
        second = run_suite(project, pytest_command, "-m", "postgres", "-n", "2", env=env)
    second.assert_all_passed(at_least=15)
    assert f"postgres  {provider}" in second.output
    assert "reused" in second.output
    assert census.peak[image] == 1  # no second container was started
    assert census.count()[image] == 1  # and the reused one was not stopped


def imported_modules(output: str) -> set[str]:
    """What the pytest process imported, from PYTHONPROFILEIMPORTTIME's lines."""
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in output.splitlines()
        if line.startswith("import time:")
    }


@pytest.mark.usefixtures("remove_kept")
def test_a_recorded_kept_container_is_found_without_the_docker_sdk(
    project: Path, suite_python: Path, images: dict[str, str], tmp_path: Path
) -> None:
    pytest_command = [str(suite_python), "-m", "pytest", "-p", "import_audit"]
    audit = tmp_path / "audit"
    env = clean_environment(
        IT_PROVIDER="testcontainers",
        PYTHONPROFILEIMPORTTIME="1",
        **images,
        **import_audit.plugin_env(audit),
    )

    first = run_suite(project, pytest_command, "-m", "postgres", env={**env, "IT_KEEP": "1"})
    first.assert_all_passed(at_least=15)
    assert "docker" in imported_modules(first.output)  # it started the container
    import_audit.assert_main_thread_only(audit, ("psycopg", "sqlalchemy"))

    second = run_suite(project, pytest_command, "-m", "postgres", env=env)
    second.assert_all_passed(at_least=15)
    assert "reused" in second.output
    assert "docker" not in imported_modules(second.output)
    # Found at once, probed before collection: the probe still imports nothing itself
    # (it raced `from sqlalchemy import Engine` in a fixture module: 1 CI run in 4).
    import_audit.assert_main_thread_only(audit, ("psycopg", "sqlalchemy"))

    # Removed behind the suite's back (docker rm, doctor.py stop): the record is stale,
    # and the next run starts a container as if there were none.
    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"io.github.copier-integration-tests.project={PROJECT}"}
    ):
        container.remove(force=True, v=True)
    with ContainerCensus([images["IT_POSTGRES_IMAGE"]], project=project) as census:
        third = run_suite(project, pytest_command, "-m", "postgres", env=env)
    third.assert_all_passed(at_least=15)
    assert census.peak[images["IT_POSTGRES_IMAGE"]] == 1
    assert "docker" in imported_modules(third.output)
    import_audit.assert_main_thread_only(audit, ("psycopg", "sqlalchemy"))


@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_failing_test_and_a_service_that_cannot_start_leave_nothing(
    project: Path, suite_python: Path, images: dict[str, str], provider: str
) -> None:
    failing = project / "tests/integration/test_fails_on_purpose.py"
    failing.write_text(FAILS_ON_PURPOSE)
    env = clean_environment(
        IT_PROVIDER=provider, **{**images, "IT_RABBITMQ_IMAGE": "registry.invalid/rabbitmq:0"}
    )
    try:
        with ContainerCensus(list(images.values()), project=project) as census:
            result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    finally:
        failing.unlink()
    assert result.returncode == 1
    assert "test_fails_on_purpose::test_fails_on_purpose" in result.failed
    assert any("test_order_events" in name for name in result.failed)  # rabbitmq ones
    assert any("test_user_repository" in name for name in result.passed)  # postgres ones
    assert census.peak[images["IT_POSTGRES_IMAGE"]] == 1
    assert sum(census.count().values()) == 0


def test_compose_v2_is_preferred_when_docker_compose_answers(
    project: Path, suite_python: Path, images: dict[str, str], tmp_path: Path
) -> None:
    # Only Compose v1 is installable here. A `docker` wrapper that answers
    # `docker compose ...` by running docker-compose shows that v2 is chosen first
    # and that the commands the provider sends work under that spelling.
    shim_dir = tmp_path / "bin"
    shim_dir.mkdir()
    calls = tmp_path / "calls.log"
    real_docker = subprocess.run(
        ["sh", "-c", "command -v docker"], capture_output=True, text=True, check=True
    ).stdout.strip()
    shim = shim_dir / "docker"
    shim.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = compose ]; then shift; echo "compose $*" >> {calls}; '
        'exec docker-compose "$@"; fi\n'
        f'exec {real_docker} "$@"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = clean_environment(IT_PROVIDER="compose", **images)
    env["PATH"] = f"{shim_dir}:{env['PATH']}"
    result = run_suite(
        project, [str(suite_python), "-m", "pytest"], "-m", "postgres", "-n", "2", env=env
    )
    result.assert_all_passed(at_least=15)
    logged = calls.read_text()
    assert "compose version" in logged
    assert "up --detach postgres" in logged
    assert " down --volumes" in logged
