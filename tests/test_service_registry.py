"""Every service is wired in everywhere, and the check says so when one is not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from registry_check import HARNESS, registry, render_problems, source_problems
from rendering import REPO_ROOT, SUITE_TEMPLATE, commit_all, template_repository


def test_the_template_source_has_every_service_wired() -> None:
    assert source_problems(REPO_ROOT) == []


@pytest.mark.parametrize("name", sorted(registry(REPO_ROOT)))
def test_a_render_has_every_part_of_the_service(name: str, tmp_path: Path) -> None:
    assert render_problems(REPO_ROOT, [name], tmp_path) == []


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    return template_repository(tmp_path / "template", "1.0.0")


def test_a_service_without_its_fixtures_module_is_reported(broken_copy: Path) -> None:
    folder = broken_copy / HARNESS / "{% if 'redis' in services %}redis{% endif %}"
    (folder / "fixtures.py").unlink()
    assert "redis: template/{{ project_dir }}/tests/integration/harness/" in " ".join(
        source_problems(broken_copy)
    )


def test_a_choice_without_a_registry_entry_is_reported(broken_copy: Path) -> None:
    config = broken_copy / "copier.yml"
    config.write_text(
        config.read_text().replace(
            "    redis:\n      title: Redis\n", "    rediz:\n      title: Redis\n", 1
        )
    )
    problems = source_problems(broken_copy)
    assert "redis: a `services` choice with no registry entry" in problems
    assert "rediz: registered but not a `services` choice" in problems


def test_a_service_missing_from_a_rendered_part_is_reported(
    broken_copy: Path, tmp_path: Path
) -> None:
    # The compose file forgets the healthcheck, the registry forgets a fixture, and
    # the container's command is written by hand again.
    compose = broken_copy / SUITE_TEMPLATE / "compose.yaml.jinja"
    compose.write_text(compose.read_text().replace("    healthcheck:", "    x-no-healthcheck:"))
    fixtures = broken_copy / HARNESS / "{% if 'redis' in services %}redis{% endif %}/fixtures.py"
    fixtures.write_text(fixtures.read_text().replace('    "redis_namespace",\n', ""))
    spec = broken_copy / HARNESS / "service_spec.py"
    spec.write_text(
        spec.read_text().replace(
            "container.with_command(list(settings.command))",
            'container.with_command(["redis-server"])',
        )
    )
    commit_all(broken_copy, "broken")
    problems = render_problems(broken_copy, ["redis"], tmp_path / "render")
    assert "redis: compose service missing, unhealthy or not on 127.0.0.1" in problems
    assert "redis: fixtures.py's __all__ lacks ['redis_namespace']" in problems
    assert any(
        problem.startswith("redis: make_container/url_for differ from the registry")
        for problem in problems
    )
    shutil.rmtree(tmp_path / "render", ignore_errors=True)
