"""Isolation beyond the samples: leak detection, Alembic as the schema source, seed
rows, and the template database kept and reused across runs by fingerprint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import commit_all, render
from server_state import drop_postgres_databases, postgres_databases

pytestmark = pytest.mark.slow

# A project name of its own: other tests run suites on the same server meanwhile,
# and these count (and drop) the databases named after it.
PROJECT = "dbiso"
PREFIX = f"test_{PROJECT}_"

LEAKING_TEST = """
from sqlalchemy import Engine


def test_leaks_a_row(db_engine: Engine) -> None:
    # Commits through the driver on a connection of its own, below SQLAlchemy (whose
    # writes from another connection are refused under rollback): the rollback
    # isolation cannot undo it.
    connection = db_engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO sample_users (email) VALUES ('leak@e.test')")
        connection.commit()
    finally:
        connection.close()
"""

ALEMBIC_ENV = """
import contextlib

import sqlalchemy as sa
from alembic import context
from sqlalchemy import Connection, create_engine

from tests.integration.samples.models import SampleBase

# The models the migrations must match: the samples' tables and the seeded lookup,
# in a MetaData of its own (the samples' own must stay as the samples declare it).
target_metadata = sa.MetaData()
for table in SampleBase.metadata.tables.values():
    table.to_metadata(target_metadata)
sa.Table("countries", target_metadata, sa.Column("code", sa.String(2), primary_key=True))

config = context.config
given = config.attributes.get("connection")
if isinstance(given, Connection):
    connection_context = contextlib.nullcontext(given)
else:
    connection_context = create_engine(config.get_main_option("sqlalchemy.url")).begin()
with connection_context as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
"""

FIRST_MIGRATION = '''
"""sample tables, from the sample models"""
from alembic import op

from tests.integration.samples.models import SampleBase

revision = "0001"
down_revision = None


def upgrade() -> None:
    SampleBase.metadata.create_all(op.get_bind())


def downgrade() -> None:
    SampleBase.metadata.drop_all(op.get_bind())
'''

SEED_MIGRATION = '''
"""a seeded lookup table"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    countries = op.create_table(
        "countries", sa.Column("code", sa.String(2), primary_key=True)
    )
    op.bulk_insert(countries, [{"code": "NL"}, {"code": "JP"}])


def downgrade() -> None:
    op.drop_table("countries")
'''

SEED_TESTS = """
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session


def _countries(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM countries")).scalar_one()


@pytest.mark.isolation("delete")
def test_seed_rows_are_there_under_delete(db_engine: Engine) -> None:
    assert _countries(db_engine) == 2
    with db_engine.begin() as connection:
        connection.execute(text("DELETE FROM countries"))


@pytest.mark.parametrize("attempt", range(3))
def test_seed_rows_survive_earlier_delete_tests(db_session: Session, attempt: int) -> None:
    count = db_session.execute(text("SELECT count(*) FROM countries")).scalar_one()
    assert count == 2
"""


@pytest.fixture
def project(tmp_path: Path, native_urls: dict[str, str]) -> Path:
    # The tests below count the `test_dbiso_` databases: start from none, even when a run
    # of these tests was killed on this server before it could clean up.
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    return render(tmp_path / PROJECT, services=["postgres"])


def test_leak_check_names_the_test_and_the_table(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    (project / "tests/integration/test_leaky.py").write_text(LEAKING_TEST)
    env = clean_environment(IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"])
    pytest_command = [str(suite_python), "-m", "pytest"]
    result = run_suite(project, pytest_command, "--it-check-leaks", "-n", "2", env=env)
    assert result.returncode == 1, result.summary()
    assert result.failed == ["test_leaky::test_leaks_a_row"]
    assert "left rows behind under rollback isolation: sample_users (1 rows)" in result.output
    # The leak was cleaned up: every other test, delete ones included, still passed.
    assert len(result.passed) >= 20
    # Without IT_KEEP, the template (built from the models) and the workers'
    # databases are dropped at the end, a failed test or not.
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX) == set()

    unchecked = run_suite(project, pytest_command, "-n", "2", env=env)
    assert "test_leaky::test_leaks_a_row" in unchecked.passed


def test_alembic_migrations_build_the_template_and_seed_rows_survive_truncate(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    migrations = project / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(ALEMBIC_ENV)
    (migrations / "versions" / "0001_sample.py").write_text(FIRST_MIGRATION)
    (migrations / "versions" / "0002_seed.py").write_text(SEED_MIGRATION)
    (project / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (project / "tests/__init__.py").write_text("")  # migrations import tests.integration
    schema = project / "tests/integration/schema.py"
    schema.write_text(
        schema.read_text().replace(
            "ALEMBIC_INI: Path | None = None",
            'ALEMBIC_INI: Path | None = Path(__file__).resolve().parents[2] / "alembic.ini"',
        )
    )
    (project / "tests/integration/test_seeds.py").write_text(SEED_TESTS)
    url = native_urls["IT_POSTGRES_URL"]
    env = clean_environment(IT_POSTGRES_URL=url, PYTHONPATH=str(project))
    result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    result.assert_all_passed(at_least=24)
    assert re.search(rf"postgres: built {PREFIX}[0-9a-f]{{12}}_tpl_", result.output)
    assert postgres_databases(url, PREFIX) == set()


def test_kept_template_is_reused_until_the_schema_changes(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    env = clean_environment(IT_POSTGRES_URL=url, IT_KEEP="1")
    # The sample migrations would rightly fail once the model gains a column no
    # migration adds (that check has its own tests): left out here.
    pytest_command = [str(suite_python), "-m", "pytest", "-m", "postgres", "-k", "not migrations"]
    try:
        first = run_suite(project, pytest_command, env=env)
        first.assert_all_passed(at_least=15)
        [template] = postgres_databases(url, f"{PREFIX}tpl_")
        assert f"postgres: built {template}" in first.output

        second = run_suite(project, pytest_command, env=env)
        second.assert_all_passed(at_least=15)
        # The worker's database was kept too: the next run takes it as it is.
        assert f"postgres: reused {PREFIX}keep_" in second.output

        # A new column changes the fingerprint: a new template is built.
        models = project / "tests/integration/samples/models.py"
        models.write_text(
            models.read_text().replace(
                "    total_cents: Mapped[int]\n",
                "    total_cents: Mapped[int]\n    currency: Mapped[str | None] = "
                "mapped_column(String(3))\n",
            )
        )
        commit_all(project, "a new column")
        third = run_suite(project, pytest_command, env=env)
        third.assert_all_passed(at_least=15)
        templates = postgres_databases(url, f"{PREFIX}tpl_")
        assert len(templates) == 2
        [new] = templates - {template}
        assert f"postgres: built {new}" in third.output
    finally:
        drop_postgres_databases(url, PREFIX)
