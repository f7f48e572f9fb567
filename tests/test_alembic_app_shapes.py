"""Alembic the way apps really configure it (issue 34, item 1): an app in `backend/`
whose alembic.ini has relative paths, whose env.py expects its framework's own Config
class and keeps its revision in `ddl_version`, and one of whose migrations builds an
index in an `autocommit_block()`. Before 0.4.0 each of these failed the migration
checks in turn: "Path doesn't exist: migrations", "'Config' object has no attribute
'db_url'", a bare AssertionError inside Alembic, and "left the test database without
alembic_version".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import commit_all, git, render, write_files
from server_state import drop_postgres_databases, postgres_databases

pytestmark = pytest.mark.slow

PROJECT = "appshapes"
PREFIX = f"test_{PROJECT}_"
MIGRATION_TESTS = "test_migrations::"

MODELS = """
from sqlalchemy import Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_plan", "plan"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    plan: Mapped[str] = mapped_column(String(20), server_default="free")
"""

# What a framework ships (advanced-alchemy's AlembicCommandConfig, say): a Config
# subclass that carries the database for env.py.
FRAMEWORK_CONFIG = """
from alembic.config import Config


class FrameworkAlembicConfig(Config):
    def __init__(self, file_: str, db_url: str) -> None:
        super().__init__(file_)
        self.db_url = db_url
"""

# Relative paths, as `alembic init` writes them and as the app runs them from backend/.
ALEMBIC_INI = """
[alembic]
script_location = migrations
path_separator = os
version_locations = migrations/versions
sqlalchemy.url = postgresql://postgres@127.0.0.1:5432/appshapes_production
"""

ENV_PY = """
from alembic import context
from sqlalchemy import create_engine

from myapp.models import Base

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        connection = create_engine(config.db_url).connect()  # the framework's Config
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table="ddl_version",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


print("env.py runs for", config.db_url)
run_migrations_online()
"""

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
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("plan", sa.String(20), nullable=False, server_default="free"),
    )


def downgrade() -> None:
    op.drop_table("accounts")
'''

# CREATE INDEX CONCURRENTLY cannot run inside a transaction: Alembic's way out.
CONCURRENT_INDEX = '''
"""an index built without locking writes"""
from alembic import op

revision = "b2"
down_revision = "a1"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_accounts_plan", "accounts", ["plan"], postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_accounts_plan", "accounts", postgresql_concurrently=True)
'''

ACCOUNTS_TEST = """
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_the_template_was_migrated_into_the_apps_version_table(db_session: Session) -> None:
    db_session.execute(text("INSERT INTO accounts (email) VALUES ('a@example.test')"))
    assert db_session.execute(text("SELECT plan FROM accounts")).scalar_one() == "free"
    assert db_session.execute(text("SELECT version_num FROM ddl_version")).scalar_one() == "b2"
    assert db_session.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
"""

SCHEMA_HOOK = '''

def alembic_config(ini_path: Path, url: str) -> Config:
    """The Config the app's env.py expects (README.md: Migrations)."""
    from myapp.framework import FrameworkAlembicConfig

    return FrameworkAlembicConfig(str(ini_path), db_url=url)
'''


def write_app(project: Path) -> None:
    files = {
        "backend/myapp/__init__.py": "",
        "backend/myapp/models.py": MODELS,
        "backend/myapp/framework.py": FRAMEWORK_CONFIG,
        "backend/alembic.ini": ALEMBIC_INI,
        "backend/migrations/env.py": ENV_PY,
        "backend/migrations/versions/a1_accounts.py": FIRST,
        "backend/migrations/versions/b2_index.py": CONCURRENT_INDEX,
        "tests/integration/test_accounts.py": ACCOUNTS_TEST,
    }
    write_files(project, files)
    schema = project / "tests/integration/schema.py"
    text = schema.read_text().replace(
        "ALEMBIC_INI: Path | None = None",
        'ALEMBIC_INI: Path | None = Path(__file__).resolve().parents[2] / "backend/alembic.ini"',
    )
    text = text.replace(
        "from sqlalchemy import Connection, MetaData",
        "from alembic.config import Config\nfrom sqlalchemy import Connection, MetaData",
    )
    schema.write_text(text + SCHEMA_HOOK)
    commit_all(project, "an app shaped by its framework")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, native_urls: dict[str, str]) -> Path:
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    project = render(
        tmp_path_factory.mktemp(PROJECT) / PROJECT,
        project_name=PROJECT,
        services=["postgres"],
        include_samples=False,
    )
    write_app(project)
    return project


def run(project: Path, python: Path, urls: dict[str, str]) -> SuiteResult:
    environment = clean_environment(
        IT_POSTGRES_URL=urls["IT_POSTGRES_URL"], PYTHONPATH=str(project / "backend")
    )
    return run_suite(project, [str(python), "-m", "pytest"], env=environment)


def test_relative_paths_a_framework_config_a_version_table_and_autocommit_work(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    try:
        # When the suite runs from the project's root (not backend/, where the ini is)
        result = run(project, suite_python, native_urls)

        # Then the template was built by the app's migrations through its own Config,
        # and the four checks pass: upgrade, the round trip of the autocommit block,
        # the model check (ddl_version is Alembic's, not a table the models lack)
        result.assert_all_passed(at_least=5)
        checks = [name for name in result.passed if name.startswith(MIGRATION_TESTS)]
        assert len(checks) == 4, result.summary()
    finally:
        drop_postgres_databases(url, PREFIX)
    assert postgres_databases(url, PREFIX) == set()


def test_without_the_hook_the_message_names_it(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    schema = project / "tests/integration/schema.py"
    schema.write_text(schema.read_text().replace("def alembic_config(", "def _unused("))
    try:
        result = run(project, suite_python, native_urls)
        assert result.returncode == 1, result.summary()
        assert "Your env.py expects another Alembic Config" in result.output, result.output
        assert "'Config' object has no attribute 'db_url'" in result.output
        assert "Define alembic_config(ini_path, url) in tests/integration/schema.py" in (
            result.output
        )
    finally:
        git(project, "checkout", "-q", ".")
        drop_postgres_databases(url, PREFIX)
    assert postgres_databases(url, PREFIX) == set()
