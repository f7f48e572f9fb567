"""Per-test database isolation: rollback, truncate or fresh.

rollback  One connection, one outer transaction, rolled back after the test. Sessions
          join it with SAVEPOINTs (SQLAlchemy's "Joining a Session into an External
          Transaction" recipe), so code under test may commit() and still leaves nothing
          behind. The fastest; but other connections never see the test's rows.
truncate  Sessions commit for real, so threads, in-process servers and consumers on
          their own connections see the data. Afterwards every table is emptied
          (DELETE, or TRUNCATE ... RESTART IDENTITY when sequences must restart).
fresh     A new database cloned from the template for this one test, dropped after:
          for DDL, extensions, anything that changes the schema.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, NullPool, create_engine
from sqlalchemy.orm import Session, sessionmaker

from ..run_state import RunState
from ..settings import ISOLATIONS, default_isolation
from .databases import PostgresServer, WorkerDatabase, row_counts, run_database_name
from .safety import ensure_connected_to

_fresh_numbers = itertools.count(1)


@dataclass(frozen=True)
class IsolationChoice:
    """What a test asked for with @pytest.mark.isolation(...), or the default."""

    strategy: str
    reset_sequences: bool = False

    @classmethod
    def for_test(cls, item: pytest.Item) -> IsolationChoice:
        marker = item.get_closest_marker("isolation")
        if marker is None:
            return cls(default_isolation())
        strategy = marker.args[0] if marker.args else marker.kwargs.get("strategy", "")
        if strategy not in ISOLATIONS:
            pytest.fail(
                f"@pytest.mark.isolation({strategy!r}): "
                f"use one of {', '.join(ISOLATIONS)}",
                pytrace=False,
            )
        return cls(
            strategy, reset_sequences=bool(marker.kwargs.get("reset_sequences", False))
        )


@dataclass(frozen=True)
class IsolatedDatabase:
    """The database a test works in, under its isolation strategy."""

    strategy: str
    database: str
    # For code that opens its own connections. Under rollback it does not see the
    # test's uncommitted rows; use truncate when it must.
    engine: Engine
    # Sessions taking part in the isolation (rollback: in the test's transaction).
    sessionmaker: sessionmaker[Session]


@contextmanager
def rolled_back(engine: Engine, database: WorkerDatabase) -> Iterator[IsolatedDatabase]:
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield IsolatedDatabase(
                strategy="rollback",
                database=database.name,
                engine=engine,
                sessionmaker=sessionmaker(
                    bind=connection, join_transaction_mode="create_savepoint"
                ),
            )
        finally:
            if transaction.is_active:
                transaction.rollback()


@contextmanager
def truncated(
    engine: Engine,
    server: PostgresServer,
    database: WorkerDatabase,
    *,
    reset_sequences: bool,
) -> Iterator[IsolatedDatabase]:
    if reset_sequences:
        restart_sequences(engine, database)
    try:
        yield IsolatedDatabase(
            strategy="truncate",
            database=database.name,
            engine=engine,
            sessionmaker=sessionmaker(bind=engine),
        )
    finally:
        clean_up_after_truncate(engine, server, database)


def clean_up_after_truncate(
    engine: Engine, server: PostgresServer, database: WorkerDatabase
) -> None:
    if any(database.baseline.values()):
        # Emptying would remove the template's seed rows too: clone it again.
        engine.dispose()
        server.drop(database.name)
        server.create(database.name, template=database.template)
    else:
        empty_tables(engine, database)


def empty_tables(engine: Engine, database: WorkerDatabase) -> None:
    """Remove every row the test left, children first, in one round trip.

    DELETE rather than TRUNCATE: on the few rows a test writes, DELETE is cheaper
    (TRUNCATE swaps files and takes exclusive locks); see benchmarks/ for the numbers.
    """
    if not database.tables:
        return
    # Table names come from the catalog, already quoted.
    statement = "; ".join(f"DELETE FROM {table}" for table in database.tables)  # noqa: S608
    with engine.begin() as connection:
        ensure_connected_to(connection, database.name)
        connection.exec_driver_sql(statement)


def restart_sequences(engine: Engine, database: WorkerDatabase) -> None:
    """Restart every sequence (serial and identity columns) at its start value."""
    with engine.begin() as connection:
        ensure_connected_to(connection, database.name)
        names = connection.exec_driver_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
            "FROM pg_sequences"
        ).scalars()
        statement = "; ".join(f"ALTER SEQUENCE {name} RESTART" for name in names)
        if statement:
            connection.exec_driver_sql(statement)


def fresh_database_name(run: RunState) -> str:
    return run_database_name(run, f"{run.worker}_f{next(_fresh_numbers)}")


@contextmanager
def fresh(
    server: PostgresServer, database: WorkerDatabase, run: RunState
) -> Iterator[IsolatedDatabase]:
    name = fresh_database_name(run)
    server.create(name, template=database.template)
    # NullPool: nothing may stay connected when the database is dropped after the test.
    engine = create_engine(server.url_for(name), poolclass=NullPool)
    try:
        yield IsolatedDatabase(
            strategy="fresh",
            database=name,
            engine=engine,
            sessionmaker=sessionmaker(bind=engine),
        )
    finally:
        engine.dispose()
        server.drop(name)


def leaked_rows(engine: Engine, database: WorkerDatabase) -> dict[str, int]:
    """Tables holding more or fewer rows than right after cloning, with their counts."""
    with engine.connect() as connection:
        counts = row_counts(connection, database.tables)
    return {t: n for t, n in counts.items() if n != database.baseline.get(t, 0)}


def fail_on_leaked_rows(
    engine: Engine, database: WorkerDatabase, strategy: str
) -> None:
    """--it-check-leaks: fail the test that left rows behind, naming the tables."""
    leaked = leaked_rows(engine, database)
    if not leaked:
        return
    # Clean up first so that the next test starts from an empty database again.
    empty_tables(engine, database)
    tables = ", ".join(
        f"{table} ({count} rows)" for table, count in sorted(leaked.items())
    )
    pytest.fail(
        f"left rows behind under {strategy} isolation: {tables}. Rows committed on "
        "connections of their own escape the rollback: use the db_session or "
        "db_sessionmaker fixtures, or mark the test "
        "@pytest.mark.isolation('truncate').",
        pytrace=False,
    )
