"""When a service is missing: skipped with the reason locally, a failure in CI.

"Docker stopped" is what the client sees when nothing answers on DOCKER_HOST; the
same for an image that cannot be pulled and a container that never becomes ready.
Nothing may be left running afterwards.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from container_census import ContainerCensus
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import render
from unprivileged import unprivileged_copy

pytestmark = pytest.mark.slow

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
MESSAGE = "postgres: no provider can serve it: IT_POSTGRES_URL is not set"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("missing") / "shop", services=["postgres"])


def run(project: Path, python: Path, *args: str, **env: str) -> SuiteResult:
    return run_suite(project, [str(python), "-m", "pytest"], *args, env=clean_environment(**env))


def test_without_docker_or_url_tests_are_skipped_saying_what_to_set(
    project: Path, suite_python: Path
) -> None:
    result = run(project, suite_python, **NO_DOCKER)
    assert result.returncode == 0, result.summary()
    assert len(result.skipped) >= 15
    for reason in result.skipped.values():
        assert MESSAGE in reason
        assert "Docker is not running" in reason
        assert "-m 'not postgres'" in reason


@pytest.mark.slow
def test_an_external_default_says_what_is_true_when_no_url_is_set(
    tmp_path: Path, suite_python: Path
) -> None:
    """default_provider=external: nothing is started, Docker or not; the README and the
    reason say so, and what would start a server."""
    project = render(tmp_path / "shop", services=["postgres"], default_provider="external")
    readme = (project / "tests/integration/README.md").read_text().splitlines()
    [auto] = [line for line in readme if line.startswith("| `auto` (default) |")]
    assert "Docker answers" not in auto
    assert "start a container" not in auto
    assert "Nothing is ever started" in auto

    result = run(project, suite_python)  # Docker answers here: still nothing starts
    assert result.returncode == 0, result.summary()
    assert len(result.skipped) >= 15, result.summary()
    for reason in result.skipped.values():
        assert MESSAGE in reason
        assert "this suite starts no server itself" in reason
        assert "--it-provider testcontainers" in reason
        assert "start Docker" not in reason
        assert "no container can be started" not in reason


@pytest.mark.parametrize(
    ("env", "args"),
    [({"CI": "true"}, ()), ({}, ("--it-require-services",))],
    ids=["CI=true", "--it-require-services"],
)
def test_in_ci_the_same_message_is_a_failure(
    project: Path, suite_python: Path, env: dict[str, str], args: tuple[str, ...]
) -> None:
    result = run(project, suite_python, *args, **NO_DOCKER, **env)
    assert result.returncode == 1, result.summary()
    assert not result.skipped
    assert len(result.failed) >= 15
    assert MESSAGE in result.output
    assert "A missing service is an error here" in result.output


def test_explicit_container_provider_without_docker_fails(
    project: Path, suite_python: Path
) -> None:
    result = run(project, suite_python, IT_PROVIDER="testcontainers", **NO_DOCKER)
    assert result.returncode == 1
    assert "postgres: Docker is not available (testcontainers needs it): Docker is not running" in (
        result.output
    )


@pytest.mark.docker
def test_image_that_cannot_be_pulled_names_the_override(project: Path, suite_python: Path) -> None:
    result = run(
        project,
        suite_python,
        IT_PROVIDER="testcontainers",
        IT_POSTGRES_IMAGE="registry.invalid/postgres:0",
    )
    assert result.returncode == 1
    assert "image cannot be pulled: registry.invalid/postgres:0" in result.output
    assert "set IT_POSTGRES_IMAGE to a mirror" in result.output


@pytest.mark.docker
@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_container_that_cannot_start_says_why_and_is_removed(
    project: Path, suite_python: Path, images: dict[str, str], provider: str
) -> None:
    # A Redis image posing as PostgreSQL: there is no `postgres` command in it.
    impostor = images["IT_REDIS_IMAGE"]
    with ContainerCensus([impostor], project=project) as census:
        result = run(project, suite_python, IT_PROVIDER=provider, IT_POSTGRES_IMAGE=impostor)
    assert result.returncode == 1
    assert '"postgres": executable file not found' in result.output
    assert census.count()[impostor] == 0


def shell_image(images: dict[str, str], context: Path, name: str, script: str) -> str:
    """A local image (any with /bin/sh) whose entrypoint is `script`, whatever its args."""
    (context / "Dockerfile").write_text(
        f'FROM {images["IT_REDIS_IMAGE"]}\nENTRYPOINT ["/bin/sh", "-c", "{script}", "-"]\n'
    )
    tag = f"copier-integration-tests/{name}:1"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(context)], check=True, capture_output=True
    )
    return tag


@pytest.fixture(scope="module")
def silent_image(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image that runs forever and never answers on any port, whatever its args."""
    script = "echo pretending to be a server; exec sleep 3600"
    return shell_image(images, tmp_path_factory.mktemp("silent"), "silent", script)


@pytest.fixture(scope="module")
def dying_image(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image that runs for a moment, says why it gives up and exits with code 3."""
    script = "echo FATAL: no space left; sleep 1; exit 3"
    return shell_image(images, tmp_path_factory.mktemp("dying"), "dying", script)


@pytest.mark.docker
@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_container_that_exits_while_starting_is_reported_at_once(
    project: Path, suite_python: Path, dying_image: str, provider: str
) -> None:
    # Were the exit not noticed, the run would wait out the startup timeout and say
    # "did not become ready".
    with ContainerCensus([dying_image], project=project) as census:
        result = run(
            project,
            suite_python,
            IT_PROVIDER=provider,
            IT_POSTGRES_IMAGE=dying_image,
            IT_STARTUP_TIMEOUT="60",
        )
    assert result.returncode == 1
    assert "postgres: failed to start:" in result.output, result.output[-3000:]
    assert "its container exited (exit code 3) before answering" in result.output
    assert "FATAL: no space left" in result.output
    assert census.count()[dying_image] == 0


@pytest.mark.docker
@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_service_that_never_answers_times_out_with_its_logs_and_is_removed(
    project: Path, suite_python: Path, silent_image: str, provider: str
) -> None:
    with ContainerCensus([silent_image], project=project) as census:
        result = run(
            project,
            suite_python,
            IT_PROVIDER=provider,
            IT_POSTGRES_IMAGE=silent_image,
            IT_STARTUP_TIMEOUT="3",
        )
    assert result.returncode == 1
    assert "did not become ready" in result.output
    assert "last log lines:" in result.output
    assert "pretending to be a server" in result.output
    assert census.count()[silent_image] == 0


@pytest.mark.docker
def test_docker_permission_denied_says_what_to_do(
    project: Path, world_readable_python: Path
) -> None:
    # As `nobody`, the engine's socket (root:docker, 0660) refuses the connection.
    with unprivileged_copy(project) as (copy, run_as):
        env = clean_environment(IT_PROVIDER="testcontainers", HOME=str(copy.parent))
        env.pop("DOCKER_HOST", None)
        result = run_suite(copy, [*run_as, str(world_readable_python), "-m", "pytest"], env=env)
    assert result.returncode == 1, result.summary()
    assert "permission denied on" in result.output
    assert "add your user to the 'docker' group" in result.output
