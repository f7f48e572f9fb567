"""A run against a PostgreSQL server it did not start leaves one empty database, made
after it has exited, that the next run takes by a rename instead of waiting for
CREATE DATABASE (~0.1 s of a one-test run; benchmarks/inner_loop.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import render
from server_state import (
    database_oid,
    drop_postgres_databases,
    postgres_databases,
    spare_databases,
    wait_for_spares,
)

PREFIX = "test_loop_"
SPARE = f"{PREFIX}spare"

# Writes the oid of the database the test ran in: a rename keeps a database's oid.
WHICH_DATABASE = """
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session


@pytest.mark.parametrize("run", range(4))  # work for both workers under -n 2
def test_which_database(db_session: Session, run: int) -> None:
    oid = db_session.execute(
        text("SELECT oid FROM pg_database WHERE datname = current_database()")
    ).scalar_one()
    Path(os.environ["OID_FILE"]).write_text(str(oid))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, native_urls: dict[str, str]) -> Path:
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    rendered = render(
        tmp_path_factory.mktemp("spare") / "loop", project_name="loop", services=["postgres"]
    )
    (rendered / "tests" / "integration" / "test_which_database.py").write_text(WHICH_DATABASE)
    return rendered


def with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + f"/{name}"


def run_once(project: Path, python: Path, url: str, *args: str) -> tuple[SuiteResult, int]:
    oid_file = project / "oid.txt"
    env = clean_environment(IT_POSTGRES_URL=url, OID_FILE=str(oid_file))
    result = run_suite(
        project,
        [str(python), "-m", "pytest"],
        *args,
        env=env,
        paths=("tests/integration/test_which_database.py",),
    )
    result.assert_all_passed(at_least=4)
    return result, int(oid_file.read_text())


def test_the_next_run_takes_the_spare_and_leaves_a_new_one(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    run_once(project, suite_python, url)  # none waiting: this one creates its own
    wait_for_spares(url)
    spare = database_oid(url, SPARE)
    assert spare is not None, spare_databases(url)

    _, used = run_once(project, suite_python, url)

    assert used == spare  # the spare, renamed, not a new database
    wait_for_spares(url)
    assert database_oid(url, SPARE) not in (None, spare)  # the next run's
    assert postgres_databases(url, PREFIX) == set()  # and nothing else is left
    # Nobody may connect to a spare: it stays as CREATE DATABASE made it, empty.
    with pytest.raises(psycopg.OperationalError, match="not currently accepting"):
        psycopg.connect(with_database(url, SPARE)).close()


def test_a_database_that_only_has_the_name_is_never_taken(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    wait_for_spares(url)
    drop_postgres_databases(url, SPARE)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{SPARE}"')
    try:
        with psycopg.connect(with_database(url, SPARE), autocommit=True) as theirs:
            theirs.execute("CREATE TABLE notes (body text)")
            theirs.execute("INSERT INTO notes VALUES ('mine')")
        someones = database_oid(url, SPARE)

        _, used = run_once(project, suite_python, url)

        assert used != someones  # the run made its own database
        wait_for_spares(url)
        with psycopg.connect(with_database(url, SPARE)) as theirs:
            assert theirs.execute("SELECT body FROM notes").fetchall() == [("mine",)]
        assert postgres_databases(url, PREFIX) == set()
    finally:
        drop_postgres_databases(url, SPARE)


def test_two_xdist_workers_leave_one_spare(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    for _ in range(2):
        result, _ = run_once(project, suite_python, url, "-n", "2")
        assert "Traceback" not in result.output
        wait_for_spares(url)
        assert spare_databases(url) & {SPARE} == {SPARE}
        assert postgres_databases(url, PREFIX) == set()
