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
    wait_for_database,
    wait_for_spares,
)

# A group of its own: the tests share one spare's name, and no other test uses it.
pytestmark = [pytest.mark.slow]

PREFIX = "test_loop_"
SPARE = f"{PREFIX}spare"

# Each test adds the oid of the database it ran in: a rename keeps a database's oid.
WHICH_DATABASE = """
import os

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session


@pytest.mark.parametrize("run", range(4))  # work for both workers under -n 2
def test_which_database(db_session: Session, run: int) -> None:
    oid = db_session.execute(
        text("SELECT oid FROM pg_database WHERE datname = current_database()")
    ).scalar_one()
    with open(os.environ["OID_FILE"], "a") as oids:
        oids.write(f"{oid}\\n")
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


def run_once(project: Path, python: Path, url: str, *args: str) -> tuple[SuiteResult, set[int]]:
    """Run the four tests; the oids of the databases they ran in."""
    oid_file = project / "oids.txt"
    oid_file.unlink(missing_ok=True)
    env = clean_environment(IT_POSTGRES_URL=url, OID_FILE=str(oid_file))
    result = run_suite(
        project,
        [str(python), "-m", "pytest"],
        *args,
        env=env,
        paths=("tests/integration/test_which_database.py",),
    )
    result.assert_all_passed(at_least=4)
    return result, {int(line) for line in oid_file.read_text().split()}


def test_the_next_run_takes_the_spare_and_leaves_a_new_one(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    run_once(project, suite_python, url)  # none waiting, or one: either way
    spare = wait_for_database(url, SPARE)
    assert spare is not None, spare_databases(url)

    # Warnings and errors shown as they are logged: the connection that sent the
    # CREATE must be closed as it is, not reset (a ROLLBACK would fail and log).
    result, used = run_once(
        project, suite_python, url, "-o", "log_cli=true", "--log-cli-level=WARNING"
    )

    assert used == {spare}  # the spare, renamed, not a new database
    assert "Exception during reset" not in result.output
    assert "Traceback" not in result.output
    assert wait_for_database(url, SPARE, not_oid=spare) is not None  # the next run's
    wait_for_spares(url)
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

        assert someones not in used  # the run made its own database
        wait_for_spares(url)
        with psycopg.connect(with_database(url, SPARE)) as theirs:
            assert theirs.execute("SELECT body FROM notes").fetchall() == [("mine",)]
        assert postgres_databases(url, PREFIX) == set()
    finally:
        drop_postgres_databases(url, SPARE)


def test_a_spare_being_made_elsewhere_is_not_made_twice(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    wait_for_spares(url)
    drop_postgres_databases(url, SPARE)
    # The lock another run's (or worker's) session holds while its CREATE goes on.
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [SPARE])
        run_once(project, suite_python, url)
        assert wait_for_database(url, SPARE, timeout=1.0) is None
    run_once(project, suite_python, url)
    assert wait_for_database(url, SPARE) is not None


def test_two_xdist_workers_share_one_spare(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    run_once(project, suite_python, url, "-n", "2")
    spare = wait_for_database(url, SPARE)
    assert spare is not None

    result, used = run_once(project, suite_python, url, "-n", "2")

    assert len(used) == 2  # both workers, each in a database of its own
    assert spare in used  # one of them the spare
    assert "Traceback" not in result.output
    wait_for_spares(url)
    assert spare_databases(url) & {SPARE} == {SPARE}
    assert postgres_databases(url, PREFIX) == set()
