"""An app's own Alembic history in the generated suite: tests/integration/test_migrations.py
appears once schema.py names ALEMBIC_INI, and its checks fail for real; env.py never
reaches another database; every version folder is in the template's fingerprint.

One render (PostgreSQL, no samples) with a small app whose history spans two
version locations; each test edits it and the edits are undone afterwards. One more
(PostgreSQL and MySQL, samples) runs the same app next to the samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import commit_all, git, render, write_files
from server_state import (
    drop_mysql_databases,
    drop_postgres_databases,
    postgres_databases,
)

# A group of its own: one render edited test by test, databases of its own prefix.
pytestmark = [pytest.mark.slow]

PREFIX = "test_migchecks_"
MIGRATION_TESTS = "test_migrations::"
UPGRADE_TEST = "test_migrations_build_the_schema_from_nothing"

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    plan: Mapped[str] = mapped_column(String(20), server_default="free")
"""

# Two version locations: the fingerprint must read both.
ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
path_separator = os
version_locations = %(here)s/migrations/versions:%(here)s/migrations/extra
sqlalchemy.url = postgresql://postgres@127.0.0.1:5432/migchecks_production
"""

# Alembic's cookbook env.py: the connection it is given, else its own.
ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

from myapp.models import Base

config = context.config


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        settings = config.get_section(config.config_ini_section, {})
        connectable = engine_from_config(
            settings, prefix="sqlalchemy.", poolclass=pool.NullPool
        ).connect()
    context.configure(connection=connectable, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
"""

# What many apps' env.py do: connect with the app's own settings, whatever it is given.
OWN_SETTINGS_ENV_PY = ENV_PY.replace(
    'connectable = config.attributes.get("connection")',
    'connectable = create_engine("postgresql://postgres@127.0.0.1:5432/'
    'migchecks_production").connect()',
).replace(
    "from alembic import context",
    "from alembic import context\nfrom sqlalchemy import create_engine",
)

FIRST = '''
"""accounts"""
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
    )


def downgrade() -> None:
    op.drop_table("accounts")
'''

SECOND = '''
"""plan, in the second version location"""
import sqlalchemy as sa
from alembic import op

revision = "b2"
down_revision = "a1"


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("plan", sa.String(20), nullable=False, server_default="free"),
    )


def downgrade() -> None:
    op.drop_column("accounts", "plan")
'''

THIRD = '''
"""a note on accounts"""
import sqlalchemy as sa
from alembic import op

revision = "c3"
down_revision = "b2"


def upgrade() -> None:
    op.add_column("accounts", sa.Column("note", sa.String(40)))


def downgrade() -> None:
    op.drop_column("accounts", "note")
'''

# A test that uses the template database, which the migrations build.
ACCOUNTS_TEST = """
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_the_template_has_the_migrated_table(db_session: Session) -> None:
    db_session.execute(text("INSERT INTO accounts (email) VALUES ('a@example.test')"))
    assert db_session.execute(text("SELECT plan FROM accounts")).scalar_one() == "free"
"""


def write_app(project: Path) -> None:
    """The app's package, alembic.ini, env.py and history; schema.py names the ini."""
    files = {
        "myapp/__init__.py": "",
        "myapp/models.py": MODELS,
        "alembic.ini": ALEMBIC_INI,
        "migrations/env.py": ENV_PY,
        "migrations/versions/a1_accounts.py": FIRST,
        "migrations/extra/b2_plan.py": SECOND,
        "tests/integration/test_accounts.py": ACCOUNTS_TEST,
    }
    write_files(project, files)
    schema = project / "tests/integration/schema.py"
    schema.write_text(
        schema.read_text().replace(
            "ALEMBIC_INI: Path | None = None",
            'ALEMBIC_INI: Path | None = Path(__file__).resolve().parents[2] / "alembic.ini"',
        )
    )
    commit_all(project, "an app with its own Alembic history")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, native_urls: dict[str, str]) -> Path:
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    project = render(
        tmp_path_factory.mktemp("migchecks") / "migchecks",
        project_name="migchecks",
        services=["postgres"],
        include_samples=False,
    )
    write_app(project)
    return project


@pytest.fixture
def app(project: Path, native_urls: dict[str, str]) -> Iterator[Path]:
    """The project; what a test edits is undone, and no database of it is left."""
    yield project
    git(project, "checkout", "-q", ".")
    git(project, "clean", "-fdq")
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX) == set()


def run(
    project: Path,
    python: Path,
    urls: dict[str, str],
    *args: str,
    paths: tuple[str, ...] = ("tests/integration",),
    **env: str,
) -> SuiteResult:
    environment = clean_environment(
        IT_POSTGRES_URL=urls["IT_POSTGRES_URL"], PYTHONPATH=str(project), **env
    )
    command = [str(python), "-m", "pytest"]
    return run_suite(project, command, *args, env=environment, paths=paths)


def test_a_sound_history_passes_and_a_new_migration_rebuilds_the_kept_template(
    app: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    try:
        # Given a sound history: the four checks pass, under -n 2, and the template
        # the migrations built is kept for later runs
        first = run(app, suite_python, native_urls, "-n", "2", IT_KEEP="1")
        first.assert_all_passed(at_least=5)
        checks = [name for name in first.passed if name.startswith(MIGRATION_TESTS)]
        assert len(checks) == 4, first.summary()
        [template] = postgres_databases(url, f"{PREFIX}tpl_")

        # When a migration is added to the second version folder
        (app / "migrations/extra/c3_note.py").write_text(THIRD)
        accounts = ("tests/integration/test_accounts.py",)
        second = run(app, suite_python, native_urls, paths=accounts, IT_KEEP="1")

        # Then the next run builds a new template instead of reusing the stale one
        second.assert_all_passed(at_least=1)
        [new] = postgres_databases(url, f"{PREFIX}tpl_") - {template}
        assert f"postgres: built {new}" in second.output, second.output[-2000:]
    finally:
        drop_postgres_databases(url, PREFIX)


def test_a_model_without_migration_and_a_broken_downgrade_fail_by_name(
    app: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    # Given a column in the model that no migration adds
    models = app / "myapp/models.py"
    models.write_text(
        models.read_text() + "    nickname: Mapped[str | None] = mapped_column(String(40))\n"
    )
    # And a downgrade that drops the wrong column
    second = app / "migrations/extra/b2_plan.py"
    second.write_text(
        second.read_text().replace(
            'op.drop_column("accounts", "plan")', 'op.drop_column("accounts", "email")'
        )
    )

    migrations = ("tests/integration/test_migrations.py",)
    result = run(app, suite_python, native_urls, paths=migrations)

    assert sorted(result.failed) == [
        f"{MIGRATION_TESTS}test_every_downgrade_undoes_its_upgrade",
        f"{MIGRATION_TESTS}test_the_models_match_the_migrations",
    ], result.summary()
    assert "add column accounts.nickname VARCHAR(40) (in the models only)" in result.output
    assert "the downgrade of b2 (b2_plan.py) does not undo its upgrade" in result.output
    assert "accounts: column email VARCHAR(254) NOT NULL is gone" in result.output


def test_an_env_py_that_connects_elsewhere_is_refused_before_it_connects(
    app: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    (app / "migrations/env.py").write_text(OWN_SETTINGS_ENV_PY)

    upgrade = f"tests/integration/test_migrations.py::{UPGRADE_TEST}"
    result = run(app, suite_python, native_urls, paths=(upgrade,))

    assert result.returncode == 1, result.summary()
    assert "Refusing a connection to database 'migchecks_production'" in result.output
    # The message shows the change: the few lines of Alembic's cookbook recipe.
    for line in (
        "def run_migrations_online() -> None:",
        '    connection = config.attributes.get("connection")',
        "    if connection is not None:  # handed one: the integration suite's database",
        "        do_run_migrations(connection)",
        "    context.configure(connection=connection, target_metadata=target_metadata)",
    ):
        assert line in result.output, result.output
    # Refused before connecting: the server was never asked for that database.
    assert 'database "migchecks_production" does not exist' not in result.output


@pytest.mark.slow
def test_the_apps_migrations_and_the_samples_run_together(
    tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    """Issue 29, item 1: ALEMBIC_INI set, the samples still find their tables."""
    # Given a render with the samples, on PostgreSQL and MySQL, whose schema.py names
    # the app's alembic.ini
    prefix = "test_migsamples_"
    mysql = native_urls["IT_MYSQL_URL"]
    project = render(
        tmp_path / "migsamples",
        project_name="migsamples",
        services=["postgres", "mysql"],
        include_samples=True,
    )
    write_app(project)
    try:
        # When the whole suite runs: samples, the app's test and its migration checks
        result = run(project, suite_python, native_urls, "-n", "2", IT_MYSQL_URL=mysql)

        # Then all of it passes: the template holds the app's migrated table and the
        # tables the samples register, on both servers
        result.assert_all_passed(at_least=40)
        checks = [name for name in result.passed if name.startswith(MIGRATION_TESTS)]
        assert len(checks) == 4, result.summary()
        samples = [name for name in result.passed if "test_user_repository" in name]
        assert any("[mysql]" in name for name in samples), result.summary()
        assert any("[postgres]" in name for name in samples), result.summary()

        # And the model check still compares with the app's models only: a column no
        # migration adds is the one difference, the samples' tables are none
        models = project / "myapp/models.py"
        models.write_text(
            models.read_text() + "    nickname: Mapped[str | None] = mapped_column(String(40))\n"
        )
        drift = ("tests/integration/test_migrations.py",)
        second = run(project, suite_python, native_urls, paths=drift, IT_MYSQL_URL=mysql)
        assert second.failed == [f"{MIGRATION_TESTS}test_the_models_match_the_migrations"], (
            second.summary()
        )
        assert "add column accounts.nickname VARCHAR(40)" in second.output
        assert "sample_" not in second.output, second.output[-3000:]
    finally:
        drop_postgres_databases(native_urls["IT_POSTGRES_URL"], prefix)
        drop_mysql_databases(mysql, prefix)
