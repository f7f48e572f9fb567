"""tests/integration/doctor.py: standard library only, says what each service would use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from generated_suite import clean_environment
from rendering import ALL_SERVICES, render


def doctor(project: Path, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-I", "tests/integration/doctor.py"],  # -I: no site-packages help
        cwd=project,
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def test_doctor_reports_urls_docker_and_the_command(
    tmp_path: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=ALL_SERVICES)
    report = doctor(
        project,
        IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"],
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    assert "postgres   IT_POSTGRES_URL is set: that server is used" in report
    assert "docker     installed but not answering" in report
    assert "rabbitmq   missing: set IT_AMQP_URL" in report
    assert "pytest tests/integration -n auto" in report


@pytest.mark.docker
def test_doctor_with_docker_says_containers_are_started(tmp_path: Path) -> None:
    project = render(tmp_path / "shop", services=["redis"], default_provider="compose")
    report = doctor(project)
    assert "docker     answers" in report
    assert "redis      a container is started (compose)" in report
