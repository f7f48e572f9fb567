"""Generated CI, for a project at the repository root and in a subfolder (project_dir).

GitHub Actions and GitLab CI read their files at the repository root whatever
project_dir is; the jobs run the suite in project_dir and start for changes there.
Checked offline: SchemaStore's schemas (shipped by check-jsonschema), zizmor's offline
audits (every finding, ignore comments not honoured), pinned actions, no branch name
and no Python version written in, and the workflow's own test command run here, in
its working directory, against the already-running services.
"""

from __future__ import annotations

import glob
import re
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
# project_dir answer -> the folder the jobs must run in ("" = the repository root)
LAYOUTS = {".": "", "backend": "backend", "services/api": "services/api"}
LAYOUT_IDS = ["root", "subfolder", "nested"]
# What a uv workspace keeps at its root, above the project (and uv reads from there).
WORKSPACE_FILES = ("uv.lock", "pyproject.toml", ".python-version", ".env")
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}")
BRANCH_NAME = re.compile(r"\b(main|master|develop|trunk)\b")


def check_schema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
         *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


@pytest.fixture(scope="module", params=list(LAYOUTS), ids=LAYOUT_IDS)
def github(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("github") / "repo"
    return render(root, services=ALL_SERVICES, ci="github", project_dir=request.param)


@pytest.fixture(scope="module", params=list(LAYOUTS), ids=LAYOUT_IDS)
def gitlab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gitlab") / "repo"
    return render(root, services=ALL_SERVICES, ci="gitlab", project_dir=request.param)


def folder_of(project: Path) -> str:
    return LAYOUTS[load(project / ".copier-answers.integration-tests.yml")["project_dir"]]


def folders_above(folder: str) -> list[str]:
    """ "services/api" -> ["services/", ""]: where a uv workspace's root may be."""
    parts = folder.split("/")
    return [f"{'/'.join(parts[:depth])}/" if depth else "" for depth in reversed(range(len(parts)))]


def path_glob(pattern: str) -> re.Pattern[str]:
    """A paths-filter glob as GitHub and GitLab read it: `**/` any folders (none too),
    `**` anything, `*` and `?` within one path segment."""
    tokens = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    meaning = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(meaning.get(token, re.escape(token)) for token in tokens))


def triggered(patterns: list[str], changed: str) -> bool:
    """Whether a change to the file `changed` matches a paths filter."""
    return any(path_glob(pattern).fullmatch(changed) for pattern in patterns)


def check_changes_filter(patterns: list[str], folder: str, own_file: str) -> None:
    """A change in the project, its CI file, or what uv reads above the project (a
    workspace's uv.lock, .python-version, .env) starts the job; elsewhere it does not."""
    wanted = [f"{folder}/app/main.py", f"{folder}/uv.lock", f"{folder}/tests/integration/ci.env",
              own_file]  # fmt: skip
    wanted += [f"{above}{name}" for above in folders_above(folder) for name in WORKSPACE_FILES]
    assert [path for path in wanted if not triggered(patterns, path)] == []
    unrelated = ["frontend/package.json", "docs/index.md", "README.md", f"{folder}-old/x.py"]
    assert [path for path in unrelated if triggered(patterns, path)] == []


def hashed_files(root: Path, base: Path, patterns: list[str]) -> set[str]:
    """The repository files a list of cache-key globs matches (relative ones resolved
    against `base`), as repository paths."""
    matched: set[str] = set()
    for pattern in patterns:
        absolute = pattern if pattern.startswith("/") else str(base / pattern)
        matched |= {
            Path(path).relative_to(root).as_posix()
            for path in glob.glob(absolute, recursive=True) if Path(path).is_file()
        }  # fmt: skip
    return matched


def check_cache_key(root: Path, base: Path, patterns: list[str], folder: str) -> None:
    """The key hashes the suite's requirements and the project's uv.lock wherever uv
    keeps it: in the project, or at the root of the uv workspace above it."""
    prefix = f"{folder}/" if folder else ""
    requirements = f"{prefix}tests/integration/requirements.txt"
    for lock in {f"{prefix}uv.lock", *(f"{above}uv.lock" for above in folders_above(folder))}:
        scratch = root / lock
        scratch.write_text("version = 1\n")
        try:
            hashed = hashed_files(root, base, patterns)
        finally:
            scratch.unlink()
        assert {requirements, lock} <= hashed, (lock, sorted(hashed))


def test_github_workflow_matches_the_schema(github: Path) -> None:
    result = check_schema("vendor.github-workflows", github / GITHUB_WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (github / ".gitlab").exists()
    assert not (github / ".gitlab-ci.yml").exists()


def test_github_workflow_is_clean_under_zizmor(github: Path) -> None:
    zizmor = Path(sys.executable).with_name("zizmor")
    result = subprocess.run(
        [str(zizmor), "--offline", "--no-config", "--no-ignores", "--strict-collection",
         "--no-progress", "--color", "never", str(github / GITHUB_WORKFLOW)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout, result.stdout


def test_github_actions_are_pinned_to_a_commit_with_the_version_named(github: Path) -> None:
    uses = [line.strip().removeprefix("- ") for line in
            (github / GITHUB_WORKFLOW).read_text().splitlines() if "uses:" in line]  # fmt: skip
    assert uses
    assert [line for line in uses if not PINNED.fullmatch(line)] == []


def test_github_workflow_runs_in_the_project_folder_for_its_changes(github: Path) -> None:
    folder = folder_of(github)
    workflow = load(github / GITHUB_WORKFLOW)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    setup_uv = [
        step for job in workflow["jobs"].values() for step in job["steps"]
        if step.get("uses", "").startswith("astral-sh/setup-uv@")
    ]  # fmt: skip
    assert len(setup_uv) == len(workflow["jobs"])
    if folder:
        assert workflow["defaults"]["run"]["working-directory"] == folder
        assert all(step["with"]["working-directory"] == folder for step in setup_uv)
        assert triggers["push"]["paths"] == triggers["pull_request"]["paths"]
        check_changes_filter(triggers["push"]["paths"], folder, GITHUB_WORKFLOW)
    else:
        assert "defaults" not in workflow
        assert all("working-directory" not in step["with"] for step in setup_uv)
        assert "paths" not in (triggers["push"] or {})
        assert "paths" not in (triggers["pull_request"] or {})
    command = shlex.split(workflow["env"]["TEST_COMMAND"])
    requirements = command[command.index("--with-requirements") + 1]
    assert (github / folder / requirements).is_file()  # relative to the working directory
    assert (github / folder / "tests/integration/pytest.ini").is_file()


def test_github_cache_key_hashes_the_lock_where_uv_keeps_it(github: Path) -> None:
    """setup-uv resolves relative globs against its working-directory; the workflow's
    own expression names the checkout."""
    folder = folder_of(github)
    workflow = load(github / GITHUB_WORKFLOW)
    for job in workflow["jobs"].values():
        (setup_uv,) = [step for step in job["steps"]
                       if step.get("uses", "").startswith("astral-sh/setup-uv@")]  # fmt: skip
        patterns = [
            line.strip().replace("${{ github.workspace }}", str(github))
            for line in setup_uv["with"]["cache-dependency-glob"].splitlines() if line.strip()
        ]  # fmt: skip
        assert not [pattern for pattern in patterns if "${{" in pattern], patterns
        base = github / setup_uv["with"].get("working-directory", "")
        check_cache_key(github, base, patterns, folder)


def test_github_workflow_takes_python_and_branch_from_the_project(github: Path) -> None:
    text = (github / GITHUB_WORKFLOW).read_text()
    workflow = load(github / GITHUB_WORKFLOW)
    for job in workflow["jobs"].values():
        # uv run picks the project's .python-version, else its requires-python.
        assert "UV_PYTHON" not in {**workflow.get("env", {}), **job.get("env", {})}
        for step in job["steps"]:
            assert not step.get("uses", "").startswith("actions/setup-python@"), step
            assert "python-version" not in step.get("with", {}), step
        # pushes run on the default branch, whatever its name
        assert "github.event.repository.default_branch" in job["if"]
    assert not BRANCH_NAME.findall(text)


def test_gitlab_ci_matches_the_schema(gitlab: Path) -> None:
    result = check_schema("vendor.gitlab-ci", gitlab / GITLAB_JOBS, gitlab / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (gitlab / ".github").exists()


def test_gitlab_job_runs_in_the_project_folder_for_its_changes(gitlab: Path) -> None:
    folder = folder_of(gitlab)
    prefix = f"{folder}/" if folder else ""
    job = load(gitlab / GITLAB_JOBS)["integration-tests"]
    script = job["script"]
    assert script[0] == f"cd {folder}" if folder else not script[0].startswith("cd ")
    changes = [rule.get("changes", {}).get("paths") for rule in job["rules"]]
    if folder:
        # merge requests and the default branch: the same filter; started by hand: none
        assert changes[0] == changes[1]
        assert changes[2:] == [None]
        check_changes_filter(changes[0], folder, GITLAB_JOBS)
    else:
        assert changes == [None] * len(changes)
    assert (gitlab / prefix / "tests/integration/requirements.txt").is_file()


def test_gitlab_cache_key_hashes_the_lock_where_uv_keeps_it(gitlab: Path) -> None:
    """cache:key:files: at most two, relative to the repository root (globs allowed)."""
    files = load(gitlab / GITLAB_JOBS)["integration-tests"]["cache"]["key"]["files"]
    assert len(files) <= 2
    check_cache_key(gitlab, gitlab, files, folder_of(gitlab))


def test_gitlab_job_takes_python_and_branch_from_the_project(gitlab: Path) -> None:
    job = load(gitlab / GITLAB_JOBS)["integration-tests"]
    assert "UV_PYTHON" not in job["variables"]
    assert job["variables"]["UV_PYTHON_DOWNLOADS"] == "automatic"
    assert any("$CI_DEFAULT_BRANCH" in rule["if"] for rule in job["rules"])
    for name in (GITLAB_JOBS, ".gitlab-ci.yml"):
        assert not BRANCH_NAME.findall((gitlab / name).read_text()), name


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
    assert not (project / "tests/integration/ci.env").exists()  # nothing would load it


@pytest.mark.slow
def test_the_workflow_command_passes_in_its_working_directory_for_every_shard(
    tmp_path: Path, native_urls: dict[str, str]
) -> None:
    repository = render(
        tmp_path / "repo", project_name="cicheck", services=ALL_SERVICES, project_dir="backend"
    )
    workflow = load(repository / GITHUB_WORKFLOW)
    job = workflow["jobs"]["services"]
    groups = job["strategy"]["matrix"]["group"]
    command = shlex.split(workflow["env"]["TEST_COMMAND"])
    assert command[:2] == ["uv", "run"]
    working_directory = repository / workflow["defaults"]["run"]["working-directory"]
    # The job's own environment: IT_PROVIDER=external and the URLs of its services,
    # which on this machine are the already-running ones on the same ports.
    env = clean_environment(**{**job["env"], **native_urls})
    passed: list[str] = []
    for group in groups:
        shard = [uv_executable(), *command[1:], str(group)]  # `run: $TEST_COMMAND "$GROUP"`
        result = run_suite(working_directory, shard, env=env, paths=())
        result.assert_all_passed(at_least=20)
        passed += result.passed
    assert len(passed) == len(set(passed))  # every test ran in exactly one shard
    assert len(passed) >= 55
