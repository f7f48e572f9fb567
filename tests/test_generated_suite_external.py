"""The generated PostgreSQL suite against an already-running server (external provider)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from generated_suite import clean_environment, run_suite, uv_executable
from rendering import REPO_ROOT, render
from server_state import postgres_databases

pytestmark = pytest.mark.slow

# A project name of its own: other tests run suites on the same server meanwhile,
# and these count the databases named after it.
PROJECT = "external"
PREFIX = f"test_{PROJECT}_"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("ext") / PROJECT, services=["postgres"])


def test_suite_passes_and_leaves_nothing_behind(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    # Serially here; under xdist (-n 2) with the documented command, below.
    url = native_urls["IT_POSTGRES_URL"]
    before = postgres_databases(url, PREFIX)
    env = clean_environment(IT_POSTGRES_URL=url)
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    result.assert_all_passed(at_least=15)
    assert "postgres  external" in result.output  # the run summary
    assert postgres_databases(url, PREFIX) == before


def test_the_command_from_the_message_after_copy_runs_the_suite_under_xdist(
    project: Path, native_urls: dict[str, str]
) -> None:
    # Exactly the command copier printed, with its dependencies from requirements.txt.
    message = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())["_message_after_copy"]
    line = next(line for line in message.splitlines() if "uv run --with-requirements" in line)
    command = line.replace("{{ cd_command }}", "").split()
    assert command[:2] == ["uv", "run"]
    url = native_urls["IT_POSTGRES_URL"]
    before = postgres_databases(url, PREFIX)
    env = clean_environment(IT_POSTGRES_URL=url)
    result = run_suite(project, [uv_executable(), *command[1:-1]], "-n", "2", env=env)
    result.assert_all_passed(at_least=15)
    assert "postgres  external" in result.output
    assert postgres_databases(url, PREFIX) == before


def test_unreachable_url_fails_with_one_clear_message(project: Path, suite_python: Path) -> None:
    env = clean_environment(IT_POSTGRES_URL="postgresql://postgres@127.0.0.1:1/test")
    env["IT_STARTUP_TIMEOUT"] = "2"
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    assert result.returncode == 1
    assert len(result.failed) >= 15  # every test that needs postgres
    assert "postgres: nothing listens there" in result.output
    assert "Start the server on 127.0.0.1:1" in result.output


def test_malformed_url_is_named_with_an_example(project: Path, suite_python: Path) -> None:
    env = clean_environment(IT_POSTGRES_URL="http://user:secret@example.test/db")
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    assert result.returncode == 1
    assert "URL cannot be used: scheme 'http' is not postgresql" in result.output
    assert "secret" not in result.output  # password masked in the message


def test_bad_provider_name_is_a_usage_error(project: Path, suite_python: Path) -> None:
    env = clean_environment(IT_PROVIDER="dockr")
    completed = subprocess.run(
        [str(suite_python), "-m", "pytest", "tests/integration"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 4
    assert "IT_PROVIDER must be one of auto, testcontainers" in completed.stderr
