"""tests/integration/ci.env reaches the test command of the generated CI, for real.

The CI files' own shell code runs here: every `run:` step of a GitHub job before its test
step, in the job's working directory, with `bash -e` (GitHub's shell) and a GITHUB_ENV
file the way the runner keeps it; the GitLab job's whole `script:` with bash and with
POSIX sh (dash). `uv` on PATH is a probe that records the environment it was started
with: the test command itself runs unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from rendering import commit_all, git, release, render, template_repository

GITHUB_WORKFLOW = ".github/workflows/integration-tests.yml"
GITLAB_JOBS = ".gitlab/integration-tests.gitlab-ci.yml"
CI_ENV = "tests/integration/ci.env"
ENV_TEMPLATE = (
    "template/{{ project_dir }}/tests/integration/{% if ci != 'none' %}ci.env{% endif %}.jinja"
)

# What users write: a comment, blank lines, CRLF (edited on Windows), a value with
# spaces, quotes, '$' and '=' (taken literally), a name the job already sets (its value
# wins) and a last line without a newline.
USER_ENV = (
    "# the app's settings in CI\n"
    "FASTAPI_ENV=development\n"
    "\n"
    'GREETING=hello, "world" $HOME `id` a=b\r\n'
    "EMPTY=\n"
    "IT_PROVIDER=compose\n"
    "LAST_LINE=kept"
)
EXPECTED = {
    "FASTAPI_ENV": "development",
    "GREETING": 'hello, "world" $HOME `id` a=b',
    "EMPTY": "",
    "LAST_LINE": "kept",
}


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def probe_path(bin_dir: Path, record: Path) -> str:
    """A PATH whose `uv` writes its environment to `record` and exits 0."""
    bin_dir.mkdir()
    probe = bin_dir / "uv"
    probe.write_text(
        f"#!{sys.executable}\n"
        "import json, os\n"
        f"open({str(record)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
    )
    probe.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def base_environment(path: str, home: Path) -> dict[str, str]:
    """What a runner starts a shell with, before the CI file's own variables."""
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "CI": "true"}


def run_shell(
    shell: list[str], script: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script_file = cwd / ".ci-step.sh"
    script_file.write_text(script)
    try:
        return subprocess.run(
            [*shell, str(script_file)], cwd=cwd, env=env, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        script_file.unlink()


def read_github_env(path: Path) -> dict[str, str]:
    """The runner's reading of GITHUB_ENV: NAME=VALUE lines (the loader writes no
    NAME<<DELIMITER blocks, and its names never contain '<<')."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, equals, value = line.partition("=")
        assert equals, line
        assert "<<" not in name, line
        found[name] = value
    return found


def run_github_job(
    repository: Path, job_name: str, tmp_path: Path
) -> tuple[list[subprocess.CompletedProcess[str]], dict[str, str] | None]:
    """The job's `run:` steps in order, then its test step; the test command's environment
    (None when a step failed before it)."""
    workflow = load(repository / GITHUB_WORKFLOW)
    job = workflow["jobs"][job_name]
    cwd = repository / workflow.get("defaults", {}).get("run", {}).get("working-directory", "")
    record = tmp_path / f"{job_name}-env.json"
    github_env = tmp_path / f"{job_name}-github-env"
    github_env.touch()
    env = {
        **base_environment(probe_path(tmp_path / f"{job_name}-bin", record), tmp_path),
        **workflow.get("env", {}), **job.get("env", {}), "GITHUB_ENV": str(github_env),
    }  # fmt: skip
    results: list[subprocess.CompletedProcess[str]] = []
    for step in job["steps"]:
        if "run" not in step:
            continue  # actions: checkout, setup-uv
        step_env = {**env, **read_github_env(github_env), **{
            name: str(value).replace("${{ matrix.group }}", "1")
            for name, value in step.get("env", {}).items()
        }}  # fmt: skip
        result = run_shell(["bash", "-e"], step["run"], cwd, step_env)
        results.append(result)
        if result.returncode:
            return results, None
    assert "$TEST_COMMAND" in job["steps"][-1]["run"]  # the last step runs the tests
    return results, json.loads(record.read_text())


def run_gitlab_job(
    repository: Path, shell: str, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, str] | None]:
    """The job's whole script in one shell, as the runner does (set -e; bash adds
    pipefail), from the repository root."""
    job = load(repository / GITLAB_JOBS)["integration-tests"]
    record = tmp_path / f"{shell}-env.json"
    env = {
        **base_environment(probe_path(tmp_path / f"{shell}-bin", record), tmp_path),
        **{name: str(value) for name, value in job["variables"].items()},
        "CI_PROJECT_DIR": str(repository), "CI_NODE_TOTAL": "2", "CI_NODE_INDEX": "1",
    }  # fmt: skip
    options = ["-e", "-o", "pipefail"] if shell == "bash" else ["-e"]
    result = run_shell([shell, *options], "\n".join(job["script"]) + "\n", repository, env)
    return result, json.loads(record.read_text()) if record.exists() else None


@pytest.fixture(scope="module", params=[".", "backend"], ids=["root", "subfolder"])
def project_dir(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """One render per (ci, project_dir), made when first asked for; tests use copies."""
    made: dict[tuple[str, str], Path] = {}

    def get(ci: str, project_dir: str) -> Path:
        if (ci, project_dir) not in made:
            root = tmp_path_factory.mktemp(f"{ci}-render") / "repo"
            made[ci, project_dir] = render(root, services=["redis"], ci=ci, project_dir=project_dir)
        return made[ci, project_dir]

    return get


def rendered(
    renders: Callable[[str, str], Path],
    tmp_path: Path,
    ci: str,
    project_dir: str,
    env_text: str | None,
) -> Path:
    """A copy of the render with the user's ci.env (None: the user deleted it)."""
    repository = tmp_path / f"{ci}-repo"
    shutil.copytree(renders(ci, project_dir), repository, ignore=shutil.ignore_patterns(".git"))
    env_file = repository / project_dir / CI_ENV
    assert env_file.is_file()  # created by copy, for the user to fill
    if env_text is None:
        env_file.unlink()
    else:
        env_file.write_text(env_text)
    return repository


def test_ci_env_reaches_the_github_test_step(
    renders: Callable[[str, str], Path], tmp_path: Path, project_dir: str
) -> None:
    repository = rendered(renders, tmp_path, "github", project_dir, USER_ENV)
    for job_name, job in load(repository / GITHUB_WORKFLOW)["jobs"].items():
        results, seen = run_github_job(repository, job_name, tmp_path)
        assert seen is not None, [result.stdout + result.stderr for result in results]
        assert {name: seen.get(name) for name in EXPECTED} == EXPECTED
        assert seen["IT_PROVIDER"] == job["env"]["IT_PROVIDER"]  # the job's own wins
        log = "".join(result.stdout for result in results)
        assert "IT_PROVIDER: already set for this job; that value is kept" in log
        assert "development" not in log  # names are logged, values are not


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_ci_env_reaches_the_gitlab_test_command(
    renders: Callable[[str, str], Path], tmp_path: Path, project_dir: str, shell: str
) -> None:
    repository = rendered(renders, tmp_path, "gitlab", project_dir, USER_ENV)
    result, seen = run_gitlab_job(repository, shell, tmp_path)
    assert seen is not None, result.stdout + result.stderr
    assert {name: seen.get(name) for name in EXPECTED} == EXPECTED
    assert seen["IT_PROVIDER"] == "external"
    assert "IT_PROVIDER: already set for this job; that value is kept" in result.stdout


def test_a_malformed_ci_env_line_fails_the_job_naming_file_and_line(
    renders: Callable[[str, str], Path], tmp_path: Path
) -> None:
    bad = "FASTAPI_ENV=development\nexport DEBUG=1\n"
    repository = rendered(renders, tmp_path, "github", "backend", bad)
    results, seen = run_github_job(repository, "services", tmp_path)
    assert seen is None
    assert results[-1].returncode == 1
    assert (
        results[-1]
        .stdout.strip()
        .endswith(
            "::error file=backend/tests/integration/ci.env,line=2::"
            "not KEY=VALUE (KEY: letters, digits, _): export DEBUG=1"
        )
    )
    repository = rendered(renders, tmp_path, "gitlab", "backend", bad)
    result, seen = run_gitlab_job(repository, "sh", tmp_path)
    assert seen is None
    assert result.returncode == 1
    assert "backend/tests/integration/ci.env line 2 is not KEY=VALUE" in result.stdout


def test_without_ci_env_the_jobs_still_run(
    renders: Callable[[str, str], Path], tmp_path: Path
) -> None:
    repository = rendered(renders, tmp_path, "github", "backend", None)
    results, seen = run_github_job(repository, "containers", tmp_path)
    assert seen is not None, [result.stdout + result.stderr for result in results]
    assert "no tests/integration/ci.env: no variables added" in results[0].stdout
    repository = rendered(renders, tmp_path, "gitlab", "backend", None)
    result, seen = run_gitlab_job(repository, "bash", tmp_path)
    assert seen is not None, result.stdout + result.stderr
    assert "no tests/integration/ci.env: no variables added" in result.stdout


SETUP = 'echo built > "$SETUP_MARKER"\nexport SETUP_ONLY_IN_ITS_SHELL=1\n'


def with_setup(repository: Path, project_dir: str, tmp_path: Path) -> Path:
    """The user's ci-setup.sh: a file written, then a failing command when FAIL_SETUP
    is set (from ci.env)."""
    script = repository / project_dir / "tests/integration/ci-setup.sh"
    assert script.read_text().rstrip().endswith("set -euo pipefail")  # created by copy
    marker = tmp_path / "setup-ran"
    script.write_text(
        script.read_text()
        + SETUP.replace("$SETUP_MARKER", str(marker))
        + '[ -z "${FAIL_SETUP:-}" ]\n'
    )
    return marker


def test_ci_setup_runs_before_the_tests_on_github(
    renders: Callable[[str, str], Path], tmp_path: Path, project_dir: str
) -> None:
    repository = rendered(renders, tmp_path, "github", project_dir, USER_ENV)
    marker = with_setup(repository, project_dir, tmp_path)
    results, seen = run_github_job(repository, "services", tmp_path)
    assert seen is not None, [result.stdout + result.stderr for result in results]
    assert marker.read_text() == "built\n"
    assert "SETUP_ONLY_IN_ITS_SHELL" not in seen  # a step of its own, as documented
    marker.unlink()
    repository = rendered(renders, tmp_path / "failing", "github", project_dir, "FAIL_SETUP=1\n")
    marker = with_setup(repository, project_dir, tmp_path)
    results, seen = run_github_job(repository, "services", tmp_path / "failing")
    assert seen is None  # the tests never ran
    assert results[-1].returncode != 0
    assert marker.exists()  # ci.env was loaded before the set-up ran


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_ci_setup_runs_before_the_tests_on_gitlab(
    renders: Callable[[str, str], Path], tmp_path: Path, project_dir: str, shell: str
) -> None:
    repository = rendered(renders, tmp_path, "gitlab", project_dir, USER_ENV + "\n")
    marker = with_setup(repository, project_dir, tmp_path)
    result, seen = run_gitlab_job(repository, shell, tmp_path)
    assert seen is not None, result.stdout + result.stderr
    assert marker.read_text() == "built\n"
    marker.unlink()
    repository = rendered(renders, tmp_path / "failing", "gitlab", project_dir, "FAIL_SETUP=1\n")
    marker = with_setup(repository, project_dir, tmp_path)
    result, seen = run_gitlab_job(repository, shell, tmp_path / "failing")
    assert seen is None, result.stdout
    assert result.returncode != 0
    assert marker.exists()


def test_without_ci_setup_the_jobs_still_run(
    renders: Callable[[str, str], Path], tmp_path: Path
) -> None:
    repository = rendered(renders, tmp_path, "github", "backend", None)
    (repository / "backend/tests/integration/ci-setup.sh").unlink()
    results, seen = run_github_job(repository, "services", tmp_path)
    assert seen is not None, [result.stdout + result.stderr for result in results]
    assert "no tests/integration/ci-setup.sh: no set-up steps" in results[-2].stdout


def update(project: Path) -> None:
    copier.run_update(project, answers_file=".copier-answers.integration-tests.yml",
                      defaults=True, overwrite=True, quiet=True, skip_answered=True)  # fmt: skip


@pytest.mark.slow
def test_copier_update_adds_ci_env_then_leaves_it_to_the_user(tmp_path: Path) -> None:
    """A project copied before ci.env existed gets it from the update that brings the
    loader; after that the file is the user's: a later template change to it does not
    reach the user's lines."""
    template = template_repository(tmp_path / "template", "0.9.0")
    text = (template / ENV_TEMPLATE).read_text()
    (template / ENV_TEMPLATE).unlink()
    commit_all(template, "template 1.0.0: no ci.env yet")
    git(template, "tag", "1.0.0")
    project = render(tmp_path / "shop", src=template, vcs_ref="1.0.0", services=["redis"],
                     project_dir="backend")  # fmt: skip
    env_file = project / "backend" / CI_ENV
    assert not env_file.exists()

    (template / ENV_TEMPLATE).write_text(text)
    commit_all(template, "template 2.0.0: ci.env")
    git(template, "tag", "2.0.0")
    update(project)
    assert env_file.read_text().endswith("# FASTAPI_ENV=development\n")

    env_file.write_text("FASTAPI_ENV=development\n")
    commit_all(project, "the app's CI settings")
    release(template, "3.0.0", {ENV_TEMPLATE: ("# FASTAPI_ENV=development", "# APP_MODE=test")})
    update(project)
    assert env_file.read_text() == "FASTAPI_ENV=development\n"
    assert not list(project.rglob("*.rej"))
