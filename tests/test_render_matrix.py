"""Which files each set of answers renders, and where; every rendered Python file compiles."""

from __future__ import annotations

import py_compile
from pathlib import Path
from typing import Any

import pytest
import yaml
from rendering import ALL_SERVICES, render, rendered_files

IT = "tests/integration"
ANSWERS = ".copier-answers.integration-tests.yml"
WORKFLOW = ".github/workflows/integration-tests.yml"
SQL_HARNESS = {f"{IT}/harness/sql/fixtures.py", f"{IT}/harness/sql/isolation.py", f"{IT}/schema.py"}
POSTGRES_HARNESS = {f"{IT}/harness/postgres/fixtures.py"}
MYSQL_HARNESS = {f"{IT}/harness/mysql/service.py", f"{IT}/harness/mysql/fixtures.py"}
MYSQL_ASYNC = {f"{IT}/harness/mysql/async_fixtures.py", f"{IT}/harness/sql/async_fixtures.py"}
REDIS_HARNESS = {f"{IT}/harness/redis/service.py"}
RABBITMQ_HARNESS = {f"{IT}/harness/rabbitmq/service.py"}
SQL_SAMPLES = {f"{IT}/samples/test_user_repository.py", f"{IT}/samples/models.py"}
ALWAYS = {
    f"{IT}/conftest.py",
    f"{IT}/pytest.ini",
    f"{IT}/ruff.toml",
    f"{IT}/README.md",
    f"{IT}/requirements.txt",
    f"{IT}/compose.yaml",
    f"{IT}/doctor.py",
    f"{IT}/harness/plugin.py",
}

MATRIX: list[tuple[dict[str, Any], set[str], set[str]]] = [
    (
        {},
        ALWAYS | SQL_HARNESS | POSTGRES_HARNESS | SQL_SAMPLES,
        MYSQL_HARNESS | REDIS_HARNESS | RABBITMQ_HARNESS,
    ),
    (
        {"services": ALL_SERVICES},
        ALWAYS | SQL_HARNESS | POSTGRES_HARNESS | MYSQL_HARNESS | REDIS_HARNESS | RABBITMQ_HARNESS,
        MYSQL_ASYNC,
    ),
    (
        {"services": ["mysql"], "async_tests": True},
        ALWAYS | SQL_HARNESS | MYSQL_HARNESS | MYSQL_ASYNC | SQL_SAMPLES,
        POSTGRES_HARNESS | REDIS_HARNESS | RABBITMQ_HARNESS,
    ),
    (
        {"services": ["postgres"], "include_samples": False},
        ALWAYS | SQL_HARNESS | POSTGRES_HARNESS,
        SQL_SAMPLES | {f"{IT}/samples/__init__.py"},
    ),
    (
        {"services": ["redis"], "default_provider": "compose"},
        ALWAYS | REDIS_HARNESS,
        SQL_HARNESS | POSTGRES_HARNESS | MYSQL_HARNESS | SQL_SAMPLES,
    ),
]


def check_rendered(project: Path, files: set[str]) -> None:
    for name in files:
        if name.endswith(".py"):
            py_compile.compile(str(project / name), doraise=True)
        assert "{%" not in (project / name).read_text(), f"unrendered Jinja in {name}"


@pytest.mark.parametrize(("answers", "present", "absent"), MATRIX)
def test_rendered_files(
    tmp_path: Path, answers: dict[str, Any], present: set[str], absent: set[str]
) -> None:
    project = render(tmp_path / "proj", **answers)
    files = rendered_files(project)
    present |= {ANSWERS, WORKFLOW}
    assert present <= files, sorted(present - files)
    assert not (absent & files), sorted(absent & files)
    check_rendered(project, files)


@pytest.mark.parametrize("project_dir", ["backend", "./backend", "backend/", "services/api"])
def test_a_project_in_a_subfolder_gets_the_suite_there_and_ci_at_the_root(
    tmp_path: Path, project_dir: str
) -> None:
    # Copier runs from the repository root; CI systems read their files there.
    project = render(tmp_path / "repo", project_dir=project_dir, services=["postgres", "mysql"])
    files = rendered_files(project)
    folder = project_dir.strip("./")  # the answer as typed: ./backend, backend/
    inside = {f"{folder}/{name}" for name in ALWAYS | SQL_HARNESS | MYSQL_HARNESS}
    assert inside <= files, sorted(inside - files)
    outside = {name for name in files if not name.startswith(f"{folder}/{IT}/")}
    assert outside == {ANSWERS, WORKFLOW}
    check_rendered(project, files)


def test_compose_file_lists_exactly_the_chosen_services(tmp_path: Path) -> None:
    project = render(tmp_path / "proj", services=["postgres", "mysql", "rabbitmq"])
    compose = yaml.safe_load((project / IT / "compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "mysql", "rabbitmq"}
    for service in compose["services"].values():
        assert all(port.startswith("127.0.0.1::") for port in service["ports"])
        assert "healthcheck" in service


@pytest.mark.parametrize(
    ("answers", "wanted", "unwanted"),
    [
        ({"services": ["redis"]}, ["redis>="], ["sqlalchemy", "pika", "pymysql"]),
        ({"services": ["mysql"]}, ["sqlalchemy", "pymysql"], ["psycopg", "aiomysql", "redis>="]),
        ({"services": ["mysql"], "async_tests": True}, ["pymysql", "aiomysql"], ["psycopg"]),
    ],
    ids=str,
)
def test_requirements_follow_the_services(
    tmp_path: Path, answers: dict[str, Any], wanted: list[str], unwanted: list[str]
) -> None:
    project = render(tmp_path / "proj", **answers)
    requirements = (project / IT / "requirements.txt").read_text()
    assert all(name in requirements for name in wanted), requirements
    assert not [name for name in unwanted if name in requirements], requirements
