"""The same generated suite with containers: testcontainers and docker compose, -n 2.

Exactly one container per service while the run lasts (not one per xdist worker),
and none afterwards, with testcontainers' reaper (Ryuk) disabled: counted in the
compose run and in the first testcontainers run of the early-start test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from container_census import ContainerCensus
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import render

pytestmark = [pytest.mark.slow, pytest.mark.docker]

# A project name of its own: the networks it looks for are named after it.
PROJECT = "ctr"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("ctr") / PROJECT, services=["postgres"])


def run_counting_containers(
    project: Path, suite_python: Path, env: dict[str, str], *args: str, cache: bool = False
) -> SuiteResult:
    """Run the suite: exactly one container while it lasts, none after it."""
    provider, image = env["IT_PROVIDER"], env["IT_POSTGRES_IMAGE"]
    with ContainerCensus([image], project=project) as census:
        assert census.count()[image] == 0, "a container of an earlier run is left"
        pytest_command = [str(suite_python), "-m", "pytest"]
        result = run_suite(project, pytest_command, *args, env=env, cache=cache)
    result.assert_all_passed(at_least=15)
    assert f"postgres  {provider}" in result.output
    assert census.peak[image] == 1
    assert census.count()[image] == 0
    assert census.new_networks(f"it-{PROJECT}-") == []
    return result


def test_one_container_per_service_during_the_run_and_none_after(
    project: Path, suite_python: Path, images: dict[str, str]
) -> None:
    # With testcontainers: the first run of the test below.
    env = clean_environment(IT_PROVIDER="compose", **images)
    run_counting_containers(project, suite_python, env, "-n", "2")


def test_services_start_before_collection_first_from_the_source_then_as_last_time(
    project: Path, suite_python: Path, images: dict[str, str]
) -> None:
    # A command's first run reads what its tests need from their source (forecast.py);
    # pytest's cache (tests/integration/.pytest_cache) then remembers what it used.
    env = clean_environment(IT_PROVIDER="testcontainers", **images)
    pytest_command = [str(suite_python), "-m", "pytest"]
    command = ("-m", "postgres", "-n", "2")
    first = run_counting_containers(project, suite_python, env, *command, cache=True)
    assert "started early, as the selected tests' fixtures ask: postgres" in first.output
    second = run_suite(project, pytest_command, *command, env=env, cache=True)
    second.assert_all_passed(at_least=15)
    assert "started early, as this command did last: postgres" in second.output
    # -k selects by names only collection knows: collection decides.
    other = run_suite(project, pytest_command, "-k", "user", env=env, cache=True)
    other.assert_all_passed(at_least=5)
    assert "started early" not in other.output
    shutil.rmtree(project / "tests/integration/.pytest_cache")
