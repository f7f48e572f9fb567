"""The run's header names the pytest plugins that come from the environment, not
from the suite's requirements, and says how to keep each out."""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import ALL_SERVICES, render

pytestmark = pytest.mark.slow

HEADER = "plugins from your environment, not this suite's requirements:"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Every requirement the template can list: the list of plugins they bring along
    # (host_plugins._BROUGHT_ALONG) must be complete for this render.
    return render(
        tmp_path_factory.mktemp("plugins") / "shop", services=ALL_SERVICES, async_tests=True
    )


def header_of(project: Path, suite_python: Path, *args: str) -> list[str]:
    # The suite venv has pytest-randomly, the template tests' own addition: to this
    # suite, a plugin from the environment like pytest-cov in a user's project.
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest", "--collect-only"],
        *args,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.summary()
    lines = result.output.splitlines()
    return [line for i, line in enumerate(lines) if HEADER in line or HEADER in lines[i - 1]]


def test_a_plugin_from_the_environment_is_named_with_its_switch(
    project: Path, suite_python: Path
) -> None:
    found = header_of(project, suite_python, "-p", "randomly")
    assert len(found) == 2, found
    named = found[0].split(HEADER, 1)[1].strip()
    # Only it: the suite's own plugins and those its requirements bring are not named.
    assert named.startswith("pytest-randomly "), found
    assert "," not in named, found
    assert found[1].endswith(
        "add to addopts in tests/integration/pytest.ini: -p no:randomly "
        "(README: Plugins from your environment)"
    ), found


def test_nothing_is_said_when_every_plugin_is_the_suites(project: Path, suite_python: Path) -> None:
    assert header_of(project, suite_python, "-p", "no:randomly") == []
