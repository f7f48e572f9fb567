"""Per-test database isolation: rollback, delete or fresh, for sync and async tests.

rollback  One connection, one outer transaction, rolled back after the test. Sessions
          join it with SAVEPOINTs (SQLAlchemy's "Joining a Session into an External
          Transaction" recipe), so code under test may commit() and still leaves nothing
          behind. The fastest; but other connections never see the test's rows.
delete    Sessions commit for real, so threads, in-process servers and consumers on
          their own connections see the data. Afterwards every table is emptied
          (DELETE; `truncate` is its old name), and seed rows of the template
          come back.
fresh     A new database cloned from the template for this one test, dropped after:
          for DDL, extensions, anything that changes the schema.

What happens before and after a test (`prepare`, `finish`) is the same for sync and
async tests; only how the test's sessions reach the database differs.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, table
from sqlalchemy.orm import Session, sessionmaker

from ..deprecated import ISOLATION_ALIASES, isolation_name
from ..run_state import RunState
from ..settings import ISOLATIONS
from .databases import WorkerDatabase, ensure_template, row_counts, run_database_name
from .deadlines import bounded
from .foreign_writes import refuse_foreign_writes
from .schema_source import schema_from_project
from .server import DatabaseServer

_fresh_numbers = itertools.count(1)
_MARKER_KEYWORDS = frozenset({"strategy", "reset_sequences"})


@dataclass(frozen=True)
class IsolationChoice:
    """What a test asked for with @pytest.mark.isolation(...), or the default."""

    # As the test or setting asked for it (an old name such as `truncate` included,
    # so that `db_isolation.strategy == "truncate"` in older tests still holds).
    strategy: str
    reset_sequences: bool = False

    @property
    def kind(self) -> str:
        """The strategy under its current name: rollback, delete or fresh."""
        return ISOLATION_ALIASES.get(self.strategy, self.strategy)

    @classmethod
    def for_test(cls, item: pytest.Item, default: str) -> IsolationChoice:
        """The closest `isolation` marker wins; else `default` (see the
        `default_db_isolation` fixture)."""
        marker = item.get_closest_marker("isolation")
        if marker is not None:
            return cls.from_marker(marker.args, marker.kwargs)
        if ISOLATION_ALIASES.get(default, default) not in ISOLATIONS:
            pytest.fail(
                f"default_db_isolation gave {default!r}; an override must return "
                f"one of {', '.join(ISOLATIONS)}",
                pytrace=False,
            )
        return cls(default)

    @classmethod
    def from_marker(
        cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> IsolationChoice:
        unknown = sorted(set(kwargs) - _MARKER_KEYWORDS)
        strategy = args[0] if args else kwargs.get("strategy", "")
        # An old name warns and stays as written (see the `strategy` field).
        known = isinstance(strategy, str) and (
            isolation_name(strategy, "@pytest.mark.isolation") in ISOLATIONS
        )
        if unknown or len(args) > 1 or not known:
            pytest.fail(
                f"@pytest.mark.isolation{_call(args, kwargs)}: use "
                f"@pytest.mark.isolation(strategy, reset_sequences=False) with a "
                f"strategy of {', '.join(ISOLATIONS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                pytrace=False,
            )
        return cls(strategy, reset_sequences=bool(kwargs.get("reset_sequences")))


@dataclass(frozen=True)
class SqlTarget:
    """One SQL service's server, this worker's database on it, and an Engine there."""

    server: DatabaseServer
    database: WorkerDatabase
    engine: Engine


@dataclass(frozen=True)
class IsolatedDatabase:
    """The database a test works in, under its isolation strategy."""

    strategy: str
    database: str
    # For code that opens its own connections. Under rollback it does not see the
    # test's uncommitted rows; use delete when it must.
    engine: Engine
    # Sessions taking part in the isolation (rollback: in the test's transaction).
    sessionmaker: sessionmaker[Session]


def prepare(choice: IsolationChoice, target: SqlTarget, run: RunState) -> str:
    """Before the test; returns the name of the database the test works in."""
    if choice.kind == "fresh":
        name = run_database_name(run, f"{run.worker}_f{next(_fresh_numbers)}")
        if target.database.template is None:  # the first fresh test builds it
            target.database.template = ensure_template(
                target.server, schema_from_project(), run, keep=False
            )
        target.server.clone(target.database.template, name)
        return name
    if choice.kind == "delete" and choice.reset_sequences:
        with target.engine.begin() as connection:
            target.server.check_connected(connection, target.database.name)
            target.server.dialect.restart_sequences(connection, target.database.tables)
    return target.database.name


def finish(
    choice: IsolationChoice, target: SqlTarget, database: str, *, check_leaks: bool
) -> None:
    """After the test: drop its fresh database, or empty tables, or look for leaks."""
    if choice.kind == "fresh":
        target.server.drop(database)
        return
    if choice.kind == "delete":
        delete_rows_and_reseed(target)
    if check_leaks:
        fail_on_leaked_rows(target, choice.strategy)


@contextmanager
def isolated(
    choice: IsolationChoice, target: SqlTarget, run: RunState, *, check_leaks: bool
) -> Iterator[IsolatedDatabase]:
    database = prepare(choice, target, run)
    try:
        with _sessions(choice, target, database) as isolated_database:
            yield isolated_database
    finally:
        finish(choice, target, database, check_leaks=check_leaks)


@contextmanager
def _sessions(
    choice: IsolationChoice, target: SqlTarget, database: str
) -> Iterator[IsolatedDatabase]:
    if choice.kind == "rollback":
        with target.engine.connect() as connection, refuse_foreign_writes(connection):
            transaction = connection.begin()
            try:
                yield IsolatedDatabase(
                    "rollback",
                    database,
                    target.engine,
                    sessionmaker(
                        bind=connection, join_transaction_mode="create_savepoint"
                    ),
                )
            finally:
                end_outer_transaction(connection, transaction, target)
        return
    # delete uses the worker's engine; fresh one of its own, without a pool:
    # nothing may stay connected when its database is dropped after the test.
    engine = (
        target.engine
        if choice.kind == "delete"
        else target.server.engine_for(database, pooled=False)
    )
    try:
        yield IsolatedDatabase(choice.kind, database, engine, sessionmaker(engine))
    finally:
        if engine is not target.engine:
            engine.dispose()


def end_outer_transaction(connection: Any, transaction: Any, target: SqlTarget) -> None:
    """Roll back the test's transaction, or close a connection a stuck call holds."""
    if connection.invalidated or not transaction.is_active:
        return
    dialect = target.server.dialect
    if dialect.is_busy(connection.connection.driver_connection):
        # A call timed out inside the test and is still waiting for the server:
        # closing drops the transaction too, without waiting behind that call.
        connection.invalidate()
        return
    # ROLLBACK is no statement: it needs a deadline of its own (a frozen server).
    with bounded(connection, dialect, target.server.settings.call_timeout):
        transaction.rollback()


def delete_rows_and_reseed(target: SqlTarget) -> None:
    """Remove every row the test left, children first, in one transaction; then put
    the template's reference rows back, parents first.

    DELETE rather than TRUNCATE: on the few rows a test writes, DELETE is cheaper
    (TRUNCATE swaps files and takes exclusive locks); see benchmarks/ for the numbers.
    """
    database = target.database
    if not database.tables:
        return
    with target.engine.begin() as connection:
        target.server.check_connected(connection, database.name)
        for each in database.tables:
            connection.execute(delete(table(each.name, schema=each.schema)))
        for each in reversed(database.tables):
            if each in database.seed:
                seed_table, rows = database.seed[each]
                connection.execute(insert(seed_table), rows)


def leaked_rows(target: SqlTarget) -> dict[str, int]:
    """Tables holding more or fewer rows than right after cloning, with their counts."""
    with target.engine.connect() as connection:
        counts = row_counts(connection, target.database.tables)
    baseline = target.database.baseline
    return {str(t): n for t, n in counts.items() if n != baseline.get(t, 0)}


def fail_on_leaked_rows(target: SqlTarget, strategy: str) -> None:
    """--it-check-leaks: fail the test that left rows behind, naming the tables."""
    leaked = leaked_rows(target)
    if not leaked:
        return
    # Clean up first so that the next test starts from an empty database again.
    delete_rows_and_reseed(target)
    tables = ", ".join(
        f"{table} ({count} rows)" for table, count in sorted(leaked.items())
    )
    pytest.fail(
        f"left rows behind under {strategy} isolation: {tables}. Rows committed on "
        "connections of their own escape the rollback: use the db_session or "
        "db_sessionmaker fixtures, or mark the test "
        "@pytest.mark.isolation('delete').",
        pytrace=False,
    )


def _call(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(arg) for arg in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"
