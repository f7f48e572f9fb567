"""The same generated suite with containers: testcontainers and docker compose, -n 2.

Exactly one container per service while the run lasts (not one per xdist worker),
and none afterwards, with testcontainers' reaper (Ryuk) disabled.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from container_census import ContainerCensus
from generated_suite import clean_environment, run_suite
from rendering import render

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("ctr") / "shop", services=["postgres"])


@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_one_container_per_service_during_the_run_and_none_after(
    project: Path, suite_python: Path, images: dict[str, str], provider: str
) -> None:
    env = clean_environment(IT_PROVIDER=provider, **images)
    image = images["IT_POSTGRES_IMAGE"]
    with ContainerCensus([image]) as census:
        assert census.count()[image] == 0, "a container of an earlier run is left"
        result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    result.assert_all_passed(at_least=15)
    assert f"postgres  {provider}" in result.output
    assert census.peak[image] == 1
    assert census.count()[image] == 0
    assert census.networks("it-shop-") == []
