"""The database fixtures tests use, the same for every SQL database:

database_service   which SQL service they use: the first one generated, unless a
                   test or conftest overrides it (the samples parametrize it)
database_target    that service's server, worker database and Engine
db_isolation       the strategy this test runs under (marker or generated default)
isolated_database  the test's database under that strategy
db_session / db_sessionmaker / db_engine   what tests and code under test use

Underneath are each database's layers (`postgres_engine`, `mysql_database`, ...),
in harness/<database>/fixtures.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..catalog import SQL_SERVICES
from ..plugin import integration_plugin
from .isolation import IsolatedDatabase, IsolationChoice, SqlTarget, isolated

__all__ = [
    "database_service",
    "database_target",
    "db_engine",
    "db_isolation",
    "db_session",
    "db_sessionmaker",
    "isolated_database",
]


@pytest.fixture
def database_service() -> str:
    """The SQL service behind db_session & co.; override it to choose another."""
    return SQL_SERVICES[0]


@pytest.fixture
def database_target(database_service: str, request: pytest.FixtureRequest) -> SqlTarget:
    """The layers of the chosen SQL service for this worker (started on first use)."""
    return sql_target(request, database_service)


def sql_target(request: pytest.FixtureRequest, service: str) -> SqlTarget:
    if service not in SQL_SERVICES:
        pytest.fail(
            f"database_service is {service!r}; "
            f"this suite has {', '.join(SQL_SERVICES)}",
            pytrace=False,
        )
    return SqlTarget(
        server=request.getfixturevalue(f"{service}_server"),
        database=request.getfixturevalue(f"{service}_database"),
        engine=request.getfixturevalue(f"{service}_engine"),
    )


@pytest.fixture
def db_isolation(request: pytest.FixtureRequest) -> IsolationChoice:
    """Which isolation this test runs under: `db_isolation.strategy`."""
    return IsolationChoice.for_test(request.node)


@pytest.fixture
def isolated_database(
    db_isolation: IsolationChoice,
    database_target: SqlTarget,
    request: pytest.FixtureRequest,
) -> Iterator[IsolatedDatabase]:
    plugin = integration_plugin(request.config)
    with isolated(
        db_isolation,
        database_target,
        plugin.run,
        check_leaks=plugin.settings.check_leaks,
    ) as database:
        yield database


@pytest.fixture
def db_sessionmaker(isolated_database: IsolatedDatabase) -> sessionmaker[Session]:
    """Sessions for code under test that makes its own; same isolation as the test."""
    return isolated_database.sessionmaker


@pytest.fixture
def db_session(isolated_database: IsolatedDatabase) -> Iterator[Session]:
    with isolated_database.sessionmaker() as session:
        yield session


@pytest.fixture
def db_engine(isolated_database: IsolatedDatabase) -> Engine:
    """An Engine for code that opens its own connections; see IsolatedDatabase."""
    return isolated_database.engine
