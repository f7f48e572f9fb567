"""Under rollback isolation, a write to the test's database from a connection that
is not the test's: the code under test made a session of its own (its own engine or
sessionmaker, an event listener that opens one mid-request) instead of using the
test's. Such a write escapes the rollback and leaks into the next test, or waits
behind the test's own locks, or leaves the test's transaction failed
(InFailedSqlTransaction) depending on timing. It is refused before it runs, every
time, with the fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL

from ..errors import IntegrationSetupError

# Statements that change data or schema; reads from another connection are fine
# (they see what was committed before the test, as the README says).
_WRITE = re.compile(
    r"^\s*(?:/\*.*?\*/\s*)*(INSERT|UPDATE|DELETE|MERGE|REPLACE|UPSERT|CREATE|ALTER"
    r"|DROP|TRUNCATE)\b",
    re.IGNORECASE | re.DOTALL,
)

FIX = (
    "Under rollback isolation only the test's own connection may write: hand the "
    "code the test's sessions (the db_sessionmaker or async_db_sessionmaker "
    "fixture; README.md: Web API in process), or mark the test "
    "@pytest.mark.isolation('delete') so that every connection commits for real."
)


class ForeignWriteError(IntegrationSetupError):
    """A connection other than the test's wrote to the test's database."""


# The test's own connections (sync and asyncio fixtures each have one), by their
# driver connection, with the database each isolates; while any is in use, one
# listener on every Engine checks each statement.
_test_connections: dict[int, URL] = {}


@contextmanager
def refuse_foreign_writes(connection: Connection) -> Iterator[None]:
    """While the test runs on `connection`, refuse writes to its database that come
    through any other SQLAlchemy connection (sync or asyncio engines alike)."""
    key = id(connection.connection.dbapi_connection)
    if not _test_connections:
        event.listen(Engine, "before_cursor_execute", _check)
    _test_connections[key] = connection.engine.url
    try:
        yield
    finally:
        del _test_connections[key]
        if not _test_connections:
            event.remove(Engine, "before_cursor_execute", _check)


def _check(
    conn: Connection,
    cursor: Any,  # the driver's cursor
    statement: str,
    *args: Any,  # parameters, context, executemany
) -> None:
    del cursor, args
    if id(conn.connection.dbapi_connection) in _test_connections:
        return
    if not _WRITE.match(statement):
        return
    url = conn.engine.url
    for target in _test_connections.values():
        if (url.database, url.host, url.port) == (
            target.database,
            target.host,
            target.port,
        ):
            first_line = statement.strip().splitlines()[0][:120]
            raise ForeignWriteError(
                f"A connection of its own wrote to the test database "
                f"{target.database!r} under rollback isolation: {first_line}\n{FIX}"
            )
