"""The suite adopted into a repository whose own ruff and mypy are strict and different.

A host's `ruff check`, `ruff format` and pre-commit's `ruff check --fix` run from the
repository root over everything, template-owned files included: they must find nothing
to report and nothing to rewrite there (a rewritten file is a conflict at the next
`copier update`), whatever the host's target version and isort settings. The suite's
`ruff.toml` is what shields it: ruff takes the closest configuration for each file.

mypy has no per-folder configuration: a host's `mypy .` sees the suite's imports, which
the host's environment does not have; the generated README gives the one line that
leaves the suite out, and the suite's own environment checks it (slow test below).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rendering import ALL_SERVICES, commit_all, git, render

PROJECT_DIR = "backend"  # a project in a subfolder: the host's config is above it
SUITE = f"{PROJECT_DIR}/tests/integration"
TARGET_VERSIONS = ["py310", "py311", "py312", "py313", "py314"]

# A host that wants everything, its own way: every rule, single quotes, its own isort.
HOST_PYPROJECT = """\
[project]
name = "host-app"
version = "1.0"
requires-python = ">={python}"

[tool.ruff]
target-version = "{target}"
line-length = 100

[tool.ruff.lint]
select = ["ALL"]
ignore = ["D", "CPY", "COM812", "ISC001"]

[tool.ruff.lint.isort]
force-single-line = true
force-sort-within-sections = true
known-first-party = ["app", "harness", "samples", "integration"]
lines-after-imports = 2
combine-as-imports = true

[tool.ruff.lint.flake8-quotes]
inline-quotes = "single"

[tool.ruff.format]
quote-style = "single"

[tool.mypy]
strict = true
python_version = "3.14"
"""
# The host's own code, clean under the host's rules.
HOST_MODULE = '"""The host application."""\n\nVERSION = \'1.0\'\n'


def tool(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def host_pyproject(target: str) -> str:
    python = f"3.{target.removeprefix('py3')}"
    return HOST_PYPROJECT.format(target=target, python=python)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render, copied into a host per target version."""
    root = tmp_path_factory.mktemp("host-lint") / "render"
    return render(root, project_dir=PROJECT_DIR, services=ALL_SERVICES, async_tests=True)


@pytest.fixture(scope="module", params=TARGET_VERSIONS)
def host(
    request: pytest.FixtureRequest, rendered: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A git repository: the rendered suite, the host's pyproject.toml and its code."""
    target: str = request.param
    path = tmp_path_factory.mktemp(f"host-{target}") / "repository"
    shutil.copytree(rendered, path)
    (path / "pyproject.toml").write_text(host_pyproject(target))
    (path / "app").mkdir()
    (path / "app" / "__init__.py").write_text(HOST_MODULE)
    commit_all(path, "the host's own configuration")
    return path


def test_host_rules_differ_from_the_suites(host: Path) -> None:
    """Control: forced onto the suite, the host's settings find faults there (I001:
    force-single-line), so the checks below test the shielding, not a lenient host."""
    result = tool(
        "ruff", "check", "--config", "pyproject.toml", "--output-format", "concise", SUITE,
        cwd=host,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "I001" in result.stdout, result.stdout


def test_host_ruff_check_and_format_from_the_root(host: Path) -> None:
    check = tool("ruff", "check", "--output-format", "concise", ".", cwd=host)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = tool("ruff", "check", "--show-files", ".", cwd=host).stdout
    assert f"{SUITE}/harness/plugin.py" in listed, "the host's run skipped the suite"
    formatted = tool("ruff", "format", "--check", ".", cwd=host)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_pre_commit_fix_and_format_change_nothing(host: Path) -> None:
    """What ruff's pre-commit hooks run: the changed files by name, fixes written."""
    files = git(host, "ls-files", "*.py").split()
    assert any(name.startswith(f"{SUITE}/harness/") for name in files), files
    fixed = tool("ruff", "check", "--fix", "--force-exclude", *files, cwd=host)
    formatted = tool("ruff", "format", "--force-exclude", *files, cwd=host)
    changed = git(host, "status", "--porcelain", "--untracked-files=no")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    assert not changed, f"the host's ruff rewrote:\n{changed}{git(host, 'diff')}"


def readme_mypy_exclude(host: Path) -> str:
    """The `exclude = [...]` line the generated README gives for the host's mypy."""
    readme = (host / SUITE / "README.md").read_text()
    found = re.search(r"^ *(exclude = \[.*\])$", readme, flags=re.MULTILINE)
    assert found, "README.md gives no mypy `exclude` line for the host"
    return found.group(1)


@pytest.mark.parametrize("host", ["py314"], indirect=True)
def test_host_mypy_with_the_readmes_exclude(host: Path) -> None:
    """The host's environment (here: the template tests') lacks the suite's
    requirements; with the README's line its `mypy .` from the root checks its own code."""
    pyproject = host / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(f"{original}{readme_mypy_exclude(host)}\n")
    try:
        result = tool("mypy", "--no-incremental", ".", cwd=host)
    finally:
        pyproject.write_text(original)  # the other tests' host has no exclude
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout, result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("host", ["py314"], indirect=True)
def test_host_mypy(host: Path, suite_python: Path) -> None:
    """The host's strict mypy (Python 3.14) from the repository root, no exclude: in
    the suite's environment it checks the suite too (module names resolve, no duplicate
    `conftest`); in an environment without the suite's requirements it cannot, which
    is why the README gives the exclude line."""
    result = tool(
        "mypy", "--no-incremental", "--python-executable", str(suite_python), ".", cwd=host
    )
    assert result.returncode == 0, result.stdout + result.stderr
    without = tool("mypy", "--no-incremental", ".", cwd=host)
    assert without.returncode == 1, without.stdout + without.stderr
    assert "import-not-found" in without.stdout, without.stdout
