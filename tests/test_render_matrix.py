"""Which files each set of answers renders; every rendered Python file compiles."""

from __future__ import annotations

import py_compile
from pathlib import Path
from typing import Any

import pytest
from rendering import ALL_SERVICES, render, rendered_files

IT = "tests/integration"
POSTGRES_HARNESS = {f"{IT}/harness/postgres/fixtures.py", f"{IT}/schema.py"}
REDIS_HARNESS = {f"{IT}/harness/redis/service.py"}
RABBITMQ_HARNESS = {f"{IT}/harness/rabbitmq/service.py"}
POSTGRES_SAMPLES = {f"{IT}/samples/test_user_repository.py", f"{IT}/samples/models.py"}
ALWAYS = {
    ".copier-answers.integration-tests.yml",
    f"{IT}/conftest.py",
    f"{IT}/README.md",
    f"{IT}/requirements.txt",
    f"{IT}/docker-compose.yml",
    f"{IT}/harness/plugin.py",
}

MATRIX: list[tuple[dict[str, Any], set[str], set[str]]] = [
    ({}, ALWAYS | POSTGRES_HARNESS | POSTGRES_SAMPLES, REDIS_HARNESS | RABBITMQ_HARNESS),
    (
        {"services": ALL_SERVICES},
        ALWAYS | POSTGRES_HARNESS | REDIS_HARNESS | RABBITMQ_HARNESS,
        set(),
    ),
    (
        {"services": ["postgres"], "include_samples": False},
        ALWAYS | POSTGRES_HARNESS,
        POSTGRES_SAMPLES | {f"{IT}/samples/__init__.py"},
    ),
    ({"services": []}, ALWAYS, POSTGRES_HARNESS | REDIS_HARNESS | RABBITMQ_HARNESS),
    (
        {"services": ["redis"], "default_provider": "compose", "isolation": "fresh"},
        ALWAYS | REDIS_HARNESS,
        POSTGRES_HARNESS | POSTGRES_SAMPLES,
    ),
]


@pytest.mark.parametrize(("answers", "present", "absent"), MATRIX)
def test_rendered_files(
    tmp_path: Path, answers: dict[str, Any], present: set[str], absent: set[str]
) -> None:
    project = render(tmp_path / "proj", **answers)
    files = rendered_files(project)
    assert present <= files, sorted(present - files)
    assert not (absent & files), sorted(absent & files)
    for name in files:
        if name.endswith(".py"):
            py_compile.compile(str(project / name), doraise=True)
        assert "{%" not in (project / name).read_text(), f"unrendered Jinja in {name}"


def test_compose_file_lists_exactly_the_chosen_services(tmp_path: Path) -> None:
    import yaml

    project = render(tmp_path / "proj", services=["postgres", "rabbitmq"])
    compose = yaml.safe_load((project / IT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == {"postgres", "rabbitmq"}
    for service in compose["services"].values():
        assert all(port.startswith("127.0.0.1::") for port in service["ports"])
        assert "healthcheck" in service


def test_requirements_follow_the_services(tmp_path: Path) -> None:
    project = render(tmp_path / "proj", services=["redis"])
    requirements = (project / IT / "requirements.txt").read_text()
    assert "redis>=" in requirements
    assert "sqlalchemy" not in requirements
    assert "pika" not in requirements
