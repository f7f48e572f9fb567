"""Generated CI: valid against the published schemas, and its test command passes here.

check-jsonschema ships SchemaStore's schemas for GitHub workflows and GitLab CI, so
the validation runs offline. The test command is taken from the workflow itself and
run for every shard against the already-running services, as the `services` job would.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from generated_suite import clean_environment, run_suite, uv_executable
from rendering import ALL_SERVICES, render

GITHUB_WORKFLOW = ".github/workflows/integration-tests.yml"
GITLAB_JOBS = ".gitlab/integration-tests.gitlab-ci.yml"


def check_schema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
         *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("services", [["postgres"], ALL_SERVICES, []], ids=str)
def test_github_workflow_matches_the_schema(tmp_path: Path, services: list[str]) -> None:
    project = render(tmp_path / "shop", services=services, ci="github")
    result = check_schema("vendor.github-workflows", project / GITHUB_WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (project / GITLAB_JOBS).exists()


@pytest.mark.parametrize("services", [["postgres"], ALL_SERVICES], ids=str)
def test_gitlab_ci_matches_the_schema(tmp_path: Path, services: list[str]) -> None:
    project = render(tmp_path / "shop", services=services, ci="gitlab")
    result = check_schema("vendor.gitlab-ci", project / GITLAB_JOBS, project / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (project / GITHUB_WORKFLOW).exists()


def test_existing_gitlab_ci_file_is_left_alone(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    project.mkdir()
    (project / ".gitlab-ci.yml").write_text("test:\n  script: [make test]\n")
    render(project, ci="gitlab")
    assert (project / ".gitlab-ci.yml").read_text() == "test:\n  script: [make test]\n"
    assert (project / GITLAB_JOBS).exists()


def test_no_ci_renders_no_workflow(tmp_path: Path) -> None:
    project = render(tmp_path / "shop", ci="none")
    assert not (project / ".github").exists()
    assert not (project / ".gitlab").exists()


def test_the_workflow_command_passes_here_for_every_shard(
    tmp_path: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=ALL_SERVICES, ci="github")
    workflow: dict[str, Any] = yaml.safe_load((project / GITHUB_WORKFLOW).read_text())
    job = workflow["jobs"]["services"]
    groups = job["strategy"]["matrix"]["group"]
    command = shlex.split(workflow["env"]["TEST_COMMAND"])
    assert command[:2] == ["uv", "run"]
    # The job's own environment: IT_PROVIDER=external and the URLs of its services,
    # which on this machine are the already-running ones on the same ports.
    env = clean_environment(**{**job["env"], **native_urls})
    passed: list[str] = []
    for group in groups:
        shard = [uv_executable(), *command[1:], str(group)]  # `run: $TEST_COMMAND <group>`
        result = run_suite(project, shard, env=env, paths=())
        result.assert_all_passed(at_least=20)
        passed += result.passed
    assert len(passed) == len(set(passed))  # every test ran in exactly one shard
    assert len(passed) >= 55
