"""The default isolation, widest to narrowest: the copier answer, --it-isolation /
IT_ISOLATION for one run, a conftest's `default_db_isolation`; a marker always wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import commit_all, render

TESTS = """
import os

import pytest


def test_gets_the_run_default(db_isolation) -> None:
    assert db_isolation.strategy == os.environ["EXPECTED_DEFAULT"]


@pytest.mark.isolation("fresh")
def test_marker_wins_over_the_run_default(db_isolation) -> None:
    assert db_isolation.strategy == "fresh"
"""

FOLDER_CONFTEST = """
import pytest


@pytest.fixture
def default_db_isolation() -> str:
    return "delete"
"""

FOLDER_TESTS = """
import pytest


def test_gets_the_folder_default(db_isolation) -> None:
    assert db_isolation.strategy == "delete"


@pytest.mark.isolation("rollback")
def test_marker_wins_over_the_folder_default(db_isolation) -> None:
    assert db_isolation.strategy == "rollback"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render(
        tmp_path_factory.mktemp("isolation") / "shop",
        services=["postgres"],
        include_samples=False,
        isolation="rollback",
    )
    suite = project / "tests" / "integration"
    (suite / "test_defaults.py").write_text(TESTS)
    folder = suite / "folder"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "conftest.py").write_text(FOLDER_CONFTEST)
    (folder / "test_folder_defaults.py").write_text(FOLDER_TESTS)
    commit_all(project, "the user's tests")
    return project


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ({}, "rollback"),
        ({"IT_ISOLATION": "delete"}, "delete"),
        ({"option": "fresh", "IT_ISOLATION": "delete"}, "fresh"),
    ],
    ids=["answer", "environment", "option-over-environment"],
)
def test_default_isolation_by_answer_run_and_folder(
    project: Path,
    suite_python: Path,
    native_urls: dict[str, str],
    how: dict[str, str],
    expected: str,
) -> None:
    variables = {key: value for key, value in how.items() if key != "option"}
    args = ("--it-isolation", how["option"]) if "option" in how else ()
    env = clean_environment(
        IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"], EXPECTED_DEFAULT=expected, **variables
    )
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest"],
        *args,
        env=env,
        paths=("tests/integration/test_defaults.py", "tests/integration/folder"),
    )
    result.assert_all_passed(4)


@pytest.mark.slow
def test_a_bad_isolation_is_one_usage_error(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    env = clean_environment(IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"], IT_ISOLATION="rolback")
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.summary()
    assert "IT_ISOLATION must be one of rollback, delete, fresh; got 'rolback'" in result.output
    assert "Traceback" not in result.output, result.summary()


OLD_NAME_TESTS = """
import pytest


@pytest.mark.isolation("truncate")
def test_old_name_in_a_marker(db_isolation, isolated_database) -> None:
    # What a test written for 0.2 asserts; it must stay green after copier update.
    assert db_isolation.strategy == "truncate"
    # ...and it runs under the strategy that deletes rows: sessions on the worker's
    # pooled engine, not on the rollback's one connection.
    assert isolated_database.strategy == "delete"


def test_old_name_as_the_run_default(db_isolation, isolated_database) -> None:
    assert db_isolation.strategy == "truncate"
    assert isolated_database.strategy == "delete"
"""


@pytest.mark.slow
def test_the_old_name_truncate_still_works_and_warns(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    old = project / "tests" / "integration" / "test_old_names.py"
    old.write_text(OLD_NAME_TESTS)
    env = clean_environment(IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"], IT_ISOLATION="truncate")
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest"],
        env=env,
        paths=(str(old.relative_to(project)),),
    )
    result.assert_all_passed(2)
    assert "HarnessDeprecationWarning" in result.output, result.summary()
    assert "isolation 'truncate' is now called 'delete'" in result.output, result.summary()


def test_readme_says_how_to_change_the_default(project: Path) -> None:
    readme = (project / "tests" / "integration" / "README.md").read_text()
    assert "`--it-isolation` / `IT_ISOLATION` | `rollback`" in readme
    assert "`default_db_isolation`" in readme
    assert "--data isolation=delete" in readme
