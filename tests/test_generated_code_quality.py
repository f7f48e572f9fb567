"""Generated code is code users own: ruff (broad rule set), ruff format, mypy --strict.

ruff and mypy are the newest releases (uv.lock). `ruff format` must leave every file
unchanged for each Python version the suite supports: a user's own ruff reads the
target from their requires-python, and a reformatted template-owned file would turn
every later `copier update` into a conflict.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rendering import ALL_SERVICES, render

# Everything ruff has, minus rules that are a matter of house style rather than
# quality, or that cannot hold for this tree:
RUFF_IGNORED = [
    "D",  # docstrings on every function: the generated code documents what is not obvious
    "CPY",  # copyright headers belong to the user's project
    "TD",  # to-do formatting
    "FIX",  # to-do presence
    "COM812",  # conflicts with ruff format
    "ISC001",  # conflicts with ruff format
    "S101",  # assert is how pytest tests check things
    "PLR2004",  # literal values in assertions are the point of a test
    "FBT",  # boolean parameters (pytest options, dataclass fields)
    "EM101",  # message literals in raise: messages here are written for the reader
    "EM102",
    "TRY003",
    "ANN401",  # Any where pytest and docker give untyped objects
    "PLC0415",  # imports inside functions keep optional dependencies lazy
    "TID252",  # relative imports: the package is `integration` or `tests.integration`
    "TC",  # typing-only imports: annotations are not evaluated (PEP 563)
]

ANSWER_SETS: list[dict[str, Any]] = [
    {"services": ALL_SERVICES, "async_tests": True},
    {"services": ALL_SERVICES, "async_tests": False},
    {"services": ["postgres"], "include_samples": False},
    {"services": ["mysql"]},
    {"services": ["redis"]},
]
TARGET_VERSIONS = ["py310", "py311", "py312", "py313", "py314"]


def tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture(
    scope="module", params=ANSWER_SETS, ids=lambda answers: str(sorted(answers.items()))
)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("quality") / "shop", **request.param)


def test_ruff_check(project: Path) -> None:
    result = tool(
        "ruff", "check", "--isolated", "--select", "ALL", "--ignore", ",".join(RUFF_IGNORED),
        "--output-format", "concise", "tests/integration", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_files_unchanged_for_every_target_version(project: Path) -> None:
    diffs = {}
    for version in TARGET_VERSIONS:
        result = tool(
            "ruff", "format", "--isolated", "--diff", "--target-version", version,
            "tests/integration", cwd=project,
        )  # fmt: skip
        if result.returncode != 0:
            diffs[version] = result.stdout + result.stderr
    assert not diffs, "\n".join(f"--- {version}:\n{diff}" for version, diff in diffs.items())


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This process's mypy cache: the suite's dependencies (SQLAlchemy, pytest, ...)
    are analysed once, not for every render; a changed module is checked again. One
    per xdist worker (mypy's cache is not written by two at once), outside the
    projects (their git trees stay clean)."""
    return tmp_path_factory.mktemp("mypy-cache")


# On one worker, one after another: the first run fills the cache the others use.
@pytest.mark.xdist_group("mypy")
def test_mypy_strict(project: Path, suite_python: Path, mypy_cache: Path) -> None:
    result = tool(
        "mypy", "--strict", "--cache-dir", str(mypy_cache),
        "--python-executable", str(suite_python), "tests/integration", cwd=project,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_with_the_suites_own_settings(project: Path) -> None:
    """tests/integration/ruff.toml is what a user's ruff applies here (test_host_lint.py)."""
    check = tool("ruff", "check", "--output-format", "concise", "tests/integration", cwd=project)
    formatted = tool("ruff", "format", "--check", "tests/integration", cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
