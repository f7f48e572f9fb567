"""IT_POSTGRES_URL and IT_MYSQL_URL may name a database that does not exist (issue 29,
item 4): the suite creates its own databases through the server's maintenance
database (PostgreSQL) or through no database at all (MySQL), says so once in the run
summary, and never creates the one the URL names.

One render (PostgreSQL and MySQL, samples) against the machine's native servers.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import render
from server_state import (
    drop_mysql_databases,
    drop_postgres_databases,
    mysql_databases,
    postgres_databases,
)

pytestmark = pytest.mark.slow

PREFIX = "test_nodb_"
SAMPLES = "tests/integration/samples"
# Tests that create, clone and drop databases: worker databases, `fresh` clones of
# the template, and the empty databases of the migration checks.
PATHS = (
    f"{SAMPLES}/test_user_repository.py",
    f"{SAMPLES}/test_isolation_strategies.py",
    f"{SAMPLES}/migrations",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(
        tmp_path_factory.mktemp("nodb") / "nodb",
        project_name="nodb",
        services=["postgres", "mysql"],
        include_samples=True,
    )


def test_a_url_naming_a_database_that_does_not_exist_runs_the_suite(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    # Given URLs of the native servers naming a database neither server has
    missing = f"test_missing_{secrets.token_hex(4)}"
    postgres = native_urls["IT_POSTGRES_URL"].rsplit("/", 1)[0] + f"/{missing}"
    mysql = native_urls["IT_MYSQL_URL"].rsplit("/", 1)[0] + f"/{missing}"
    assert missing not in postgres_databases(postgres.rsplit("/", 1)[0] + "/postgres")
    assert missing not in mysql_databases(mysql)
    env = clean_environment(IT_POSTGRES_URL=postgres, IT_MYSQL_URL=mysql)
    try:
        # When the suite runs on both, under -n 2
        command = [str(suite_python), "-m", "pytest"]
        result = run_suite(project, command, "-n", "2", env=env, paths=PATHS)

        # Then every test passes on each server; the summary says where PostgreSQL's
        # databases came from; the database the URLs name was not created
        result.assert_all_passed(at_least=30)
        for service in ("postgres", "mysql"):
            assert any(f"[{service}]" in name for name in result.passed), result.summary()
        assert (
            f"postgres: {missing} (IT_POSTGRES_URL) does not exist; the suite creates "
            "its databases through postgres instead" in result.output
        ), result.summary()
        admin = native_urls["IT_POSTGRES_URL"]
        assert missing not in postgres_databases(admin)
        assert missing not in mysql_databases(native_urls["IT_MYSQL_URL"])
        # And the run's own databases are gone (spares aside: see native_urls)
        assert postgres_databases(admin, PREFIX) == set()
        assert mysql_databases(native_urls["IT_MYSQL_URL"], PREFIX) == set()
    finally:
        drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
        drop_mysql_databases(native_urls["IT_MYSQL_URL"], PREFIX)
