"""The app's own boundaries in a default render: the FastAPI sample (sync and async),
its Schemathesis contract tests, the samples' Alembic history with its checks, and
SQLModel sessions, on PostgreSQL and MariaDB, under -n 2; and each kind of check
failing for real: an endpoint that fails with 500, a model without its migration, a
downgrade that does not undo its upgrade.

One render, reused; what a test breaks is put back afterwards.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import git, render

# A group of its own: one render edited test by test, databases of its own prefix.
pytestmark = [pytest.mark.slow]

SAMPLES = "tests/integration/samples"
NEW_SAMPLES = (
    f"{SAMPLES}/api",
    f"{SAMPLES}/migrations",
    f"{SAMPLES}/test_sqlmodel_session.py",
    f"{SAMPLES}/test_async_sqlmodel_session.py",
    # The app's own history: without ALEMBIC_INI in schema.py nothing is collected.
    "tests/integration/test_migrations.py",
)
CONTRACT = "samples.api.test_api_contract::test_api_honours_its_schema"
ASYNC_CONTRACT = "samples.api.test_async_api_contract::test_async_api_honours_its_schema"
MIGRATIONS = "samples.migrations.test_sample_migrations"
DATABASES = ("postgres", "mysql")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("boundaries") / "boundaries",
        project_name="boundaries",
        services=list(DATABASES),
        async_tests=True,
    )


@pytest.fixture
def samples(project: Path) -> Iterator[Path]:
    """The render's samples folder; whatever a test edits there is undone after it."""
    yield project / SAMPLES
    git(project, "checkout", "-q", ".")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def run(project: Path, python: Path, urls: dict[str, str], paths: tuple[str, ...]) -> SuiteResult:
    env = clean_environment(
        IT_POSTGRES_URL=urls["IT_POSTGRES_URL"], IT_MYSQL_URL=urls["IT_MYSQL_URL"]
    )
    return run_suite(project, [str(python), "-m", "pytest"], "-n", "2", env=env, paths=paths)


def test_the_new_samples_pass_on_both_databases(
    samples: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    result = run(samples.parents[2], suite_python, native_urls, NEW_SAMPLES)

    result.assert_all_passed(at_least=60)
    for database in DATABASES:
        for operation in ("POST /users", "GET /users", "GET /orders/{order_id}"):
            assert f"{CONTRACT}[{operation}][{database}]" in result.passed
            assert f"{ASYNC_CONTRACT}[{operation}][{database}]" in result.passed
        for check in ("every_downgrade_undoes_its_upgrade", "the_models_match_the_migrations"):
            assert f"{MIGRATIONS}::test_{check}[{database}]" in result.passed
    assert not [name for name in result.passed if name.startswith("test_migrations::")]


def test_contract_and_migration_checks_fail_for_real(
    samples: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    app, async_app = samples / "api/app.py", samples / "api/async_app.py"
    # Given an API that accepts longer display names than the column holds
    edit(app, "max_length=DISPLAY_NAME_MAX_LENGTH,", "max_length=DISPLAY_NAME_MAX_LENGTH + 10,")
    # And an endpoint that answers 500 where it should say 404
    for module in (app, async_app):
        edit(module, 'HTTP_404_NOT_FOUND, "no such user"', 'HTTP_500_INTERNAL_SERVER_ERROR, "oops"')
    # And a model column that no migration adds, and a downgrade dropping the wrong column
    edit(
        samples / "models.py",
        "    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))\n",
        "    note: Mapped[str | None] = mapped_column(String(NOTE_MAX_LENGTH))\n"
        "    currency: Mapped[str | None] = mapped_column(String(3))\n",
    )
    edit(
        samples / "migrations/versions/v0002_newsletter.py",
        'op.drop_column("sample_users", "newsletter")',
        'op.drop_column("sample_users", "display_name")',
    )

    project = samples.parents[2]
    shutil.rmtree(project / ".hypothesis", ignore_errors=True)
    result = run(
        project,
        suite_python,
        native_urls,
        (
            f"{SAMPLES}/api/test_api_contract.py",
            f"{SAMPLES}/api/test_async_api_contract.py",
            f"{SAMPLES}/migrations",
        ),
    )

    expected = {
        f"{contract}[{operation}][{database}]"
        for contract in (CONTRACT, ASYNC_CONTRACT)
        for operation in ("POST /users", "GET /users/{user_id}")
        for database in DATABASES
    } | {
        f"{MIGRATIONS}::test_{check}[{database}]"
        for check in ("every_downgrade_undoes_its_upgrade", "the_models_match_the_migrations")
        for database in DATABASES
    }
    assert set(result.failed) == expected, result.summary()
    output = result.output
    # The display name the database cannot hold, found by the generated requests
    assert "value too long for type character varying(50)" in output
    assert "Data too long for column 'display_name'" in output
    # The undocumented 500
    assert "Server error" in output
    # The model without its migration, and the downgrade that does not undo its upgrade
    assert "add column sample_orders.currency VARCHAR(3) (in the models only)" in output
    assert "the downgrade of 0002 (v0002_newsletter.py) does not undo its upgrade" in output
    assert "sample_users: column display_name VARCHAR(50) NULL is gone" in output
    # Run from the repository's root, Hypothesis wrote nothing there (its caches are
    # in the suite's folder, as test_hypothesis_keeps_its_files_in_the_suites_folder shows).
    assert not (project / ".hypothesis").exists()


PROBE_PLUGIN = """
import json, os, sys

def pytest_unconfigure(config):
    with open(os.environ["HYPOTHESIS_PROBE"], "w") as probe:
        json.dump({"imported": "hypothesis" in sys.modules}, probe)
"""


def test_hypothesis_costs_nothing_where_no_test_uses_it(
    samples: Path, suite_python: Path, native_urls: dict[str, str], tmp_path: Path
) -> None:
    # Hypothesis' pytest plugin imports all of Hypothesis in its terminal summary;
    # the suite switches it off for runs that never used Hypothesis, and only then.
    (tmp_path / "hypothesis_probe.py").write_text(PROBE_PLUGIN)
    probe = tmp_path / "probe.json"
    env = clean_environment(
        IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"],
        IT_MYSQL_URL=native_urls["IT_MYSQL_URL"],
        PYTHONPATH=str(tmp_path),
        HYPOTHESIS_PROBE=str(probe),
    )
    project, command = samples.parents[2], [str(suite_python), "-m", "pytest"]
    repository_test = f"{SAMPLES}/test_user_repository.py::test_added_user_can_be_read_back"

    plain = run_suite(project, command, "-p", "hypothesis_probe", env=env, paths=(repository_test,))
    plain.assert_all_passed(at_least=2)
    assert json.loads(probe.read_text()) == {"imported": False}

    contract = run_suite(
        project,
        command,
        "-p",
        "hypothesis_probe",
        "--hypothesis-show-statistics",
        env=env,
        paths=(f"{SAMPLES}/api/test_api_contract.py",),
    )
    contract.assert_all_passed(at_least=6)
    assert json.loads(probe.read_text()) == {"imported": True}
    assert "Hypothesis Statistics" in contract.output


FAILING_PROPERTY = """
from hypothesis import given, strategies as st


def test_a_property_that_does_not_hold_for_long_names() -> None:
    @given(st.text())
    def short(name: str) -> None:
        assert len(name) < 3

    short()
"""


@pytest.mark.slow
def test_hypothesis_keeps_its_files_in_the_suites_folder(project: Path, suite_python: Path) -> None:
    """Run from the repository's root, a failing property leaves its example in
    tests/integration/.hypothesis (replayed first next time), nothing at the root."""
    suite = project / "tests/integration"
    test_file = suite / "test_my_property.py"
    test_file.write_text(FAILING_PROPERTY)
    shutil.rmtree(project / ".hypothesis", ignore_errors=True)
    shutil.rmtree(suite / ".hypothesis", ignore_errors=True)
    try:
        result = run_suite(
            project, [str(suite_python), "-m", "pytest"], env=clean_environment(),
            paths=(str(test_file.relative_to(project)),),
        )  # fmt: skip
    finally:
        test_file.unlink()
    failing = "test_my_property::test_a_property_that_does_not_hold_for_long_names"
    assert result.failed == [failing], result.summary()
    assert not (project / ".hypothesis").exists()
    assert [path for path in (suite / ".hypothesis/examples").iterdir() if path.is_dir()]
