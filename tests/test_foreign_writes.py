"""Sessions the app opens itself (issue 34, item 3): under rollback isolation a write
from any connection but the test's is refused before it runs, with one message that
names the fix, sync and asyncio; reads stay allowed, and the same write under
`isolation("delete")` passes. Before 0.4.0 such a write committed past the rollback
(a row leaked into the next test) or, when it touched the test's rows, waited on the
test's locks or failed its transaction, differently from run to run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from generated_suite import SuiteResult, clean_environment, run_suite
from rendering import commit_all, render
from server_state import drop_postgres_databases, postgres_databases

pytestmark = pytest.mark.slow

PROJECT = "foreignw"
PREFIX = f"test_{PROJECT}_"
MESSAGE = "A connection of its own wrote to the test database"
FIX = "@pytest.mark.isolation('delete')"

MODELS = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
notes = Table(
    "notes", metadata, Column("id", Integer, primary_key=True), Column("text", String(50))
)
audit = Table(
    "audit", metadata, Column("id", Integer, primary_key=True), Column("what", String(50))
)
"""

USER_TESTS = """
import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session

from .app_models import audit, notes


def _audit_on_its_own(engine: Engine):
    # What the app did: an event listener that records an audit row with a session
    # of its own, on the app's engine, in the middle of the request.
    def record(state: ORMExecuteState) -> None:
        if state.is_insert and state.statement.table is notes:
            with Session(engine) as own:
                own.execute(insert(audit).values(what="note added"))
                own.commit()

    return record


def test_app_session_of_its_own_is_refused(db_session: Session, db_engine: Engine) -> None:
    event.listen(db_session, "do_orm_execute", _audit_on_its_own(db_engine))
    db_session.execute(insert(notes).values(text="hello"))


def test_a_write_on_the_engine_is_refused(db_engine: Engine) -> None:
    with db_engine.begin() as connection:
        connection.execute(insert(notes).values(text="escapes the rollback"))


async def test_an_async_write_on_the_engine_is_refused(async_db_engine: AsyncEngine) -> None:
    async with async_db_engine.begin() as connection:
        await connection.execute(insert(notes).values(text="escapes the rollback"))


def test_reads_elsewhere_are_fine(db_session: Session, db_engine: Engine) -> None:
    db_session.execute(insert(notes).values(text="only in the test's transaction"))
    with db_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(notes)) == 0


@pytest.mark.isolation("delete")
def test_under_delete_every_connection_commits(db_session: Session, db_engine: Engine) -> None:
    event.listen(db_session, "do_orm_execute", _audit_on_its_own(db_engine))
    db_session.execute(insert(notes).values(text="hello"))
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(audit)) == 1
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, native_urls: dict[str, str]) -> Path:
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    project = render(
        tmp_path_factory.mktemp(PROJECT) / PROJECT,
        project_name=PROJECT,
        services=["postgres"],
        include_samples=False,
        async_tests=True,
    )
    suite = project / "tests/integration"
    (suite / "app_models.py").write_text(MODELS)
    (suite / "test_own_sessions.py").write_text(
        USER_TESTS.replace(
            "async def test_an_async",
            '@pytest.mark.asyncio(loop_scope="session")\nasync def test_an_async',
        )
    )
    schema = suite / "schema.py"
    metadata = "    from .app_models import metadata\n\n    return [metadata]"
    schema.write_text(schema.read_text().replace("    return []", metadata))
    commit_all(project, "an app that opens sessions of its own")
    return project


def run(project: Path, python: Path, url: str) -> SuiteResult:
    environment = clean_environment(IT_POSTGRES_URL=url)
    return run_suite(
        project, [str(python), "-m", "pytest"], "--it-check-leaks", env=environment,
        paths=("tests/integration/test_own_sessions.py",),
    )  # fmt: skip


def test_writes_from_other_connections_are_refused_under_rollback(
    project: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    try:
        result = run(project, suite_python, url)
    finally:
        drop_postgres_databases(url, PREFIX)
    assert postgres_databases(url, PREFIX) == set()

    refused = {
        "test_own_sessions::test_app_session_of_its_own_is_refused",
        "test_own_sessions::test_a_write_on_the_engine_is_refused",
        "test_own_sessions::test_an_async_write_on_the_engine_is_refused",
    }
    assert set(result.failed) == refused, result.summary()
    assert set(result.passed) == {
        "test_own_sessions::test_reads_elsewhere_are_fine",
        "test_own_sessions::test_under_delete_every_connection_commits",
    }, result.summary()
    # Each says what happened and what to change; nothing leaked (--it-check-leaks).
    assert result.output.count(MESSAGE) >= len(refused), result.output
    for said in (FIX, "db_sessionmaker", "INSERT INTO audit", "INSERT INTO notes"):
        assert said in result.output, result.output
    assert "left rows behind" not in result.output, result.output
    assert "InFailedSqlTransaction" not in result.output, result.output
