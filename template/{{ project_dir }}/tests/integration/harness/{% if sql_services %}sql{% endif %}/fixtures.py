"""The database fixtures tests use, the same for every SQL database:

database_service   which SQL service they use: the first one generated, unless a
                   test or conftest overrides it (the samples parametrize it)
database_target    that service's server, worker database and Engine
default_db_isolation  the strategy of a test without a marker: --it-isolation /
                   IT_ISOLATION, else the copier answer; override it in a conftest
db_isolation       the strategy this test runs under (its marker, else the default)
isolated_database  the test's database under that strategy
db_session / db_sessionmaker / db_engine   what tests and code under test use
factory_session    binds factory-boy factories (factories.py) to db_session

Underneath are each database's layers (`postgres_engine`, `mysql_database`, ...),
in harness/<database>/fixtures.py.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from contextvars import ContextVar

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ..catalog import SQL_SERVICES
from ..plugin import integration_plugin
from .deadlines import raise_pending_interrupt
from .isolation import IsolatedDatabase, IsolationChoice, SqlTarget, isolated

# PostgreSQL: relation "x" does not exist; MySQL: Table 'db.x' doesn't exist.
_MISSING_TABLE = re.compile(r"relation \S+ does not exist|Table \S+ doesn't exist")
MISSING_TABLE_HINT = (
    "The test database lacks that table. Its tables come from "
    "tests/integration/schema.py: add your models' MetaData to schema_metadata(), or "
    "point ALEMBIC_INI at your migrations (the samples add theirs with "
    "register_metadata)."
)

__all__ = [
    "database_service",
    "database_target",
    "db_engine",
    "db_isolation",
    "db_session",
    "db_sessionmaker",
    "default_db_isolation",
    "factory_session",
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
    integration_plugin(request.config).require(service)
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
def default_db_isolation(pytestconfig: pytest.Config) -> str:
    """The isolation of tests without an `isolation` marker.

    Override it in a conftest.py to change the default for the tests below it
    (`return "delete"`), as pytest-django's `django_db_*` settings fixtures are;
    a test's or module's marker still wins.
    """
    return integration_plugin(pytestconfig).settings.isolation


@pytest.fixture
def db_isolation(
    request: pytest.FixtureRequest, default_db_isolation: str
) -> IsolationChoice:
    """Which isolation this test runs under: `db_isolation.strategy`."""
    return IsolationChoice.for_test(request.node, default_db_isolation)


@pytest.fixture
def isolated_database(
    db_isolation: IsolationChoice,
    database_target: SqlTarget,
    pytestconfig: pytest.Config,
) -> Iterator[IsolatedDatabase]:
    plugin = integration_plugin(pytestconfig)
    service = database_target.server.dialect.service
    with ExitStack() as stack:
        with plugin.service_calls(service):
            database = stack.enter_context(
                isolated(
                    db_isolation,
                    database_target,
                    plugin.run,
                    check_leaks=plugin.settings.check_leaks,
                )
            )
        yield database
        # After the test: skipped when the server is gone (the run says so once).
        plugin.clean_up(service, stack.close)


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


# The session SessionFactory subclasses (factories.py) flush into, while a test holds
# `factory_session`. Kept here, not there: this module is loaded in every run, and
# factory-boy (~0.04 s to import) only by the tests that use a factory.
FACTORY_SESSION: ContextVar[Session | None] = ContextVar(
    "factory_session", default=None
)


@pytest.fixture
def factory_session(db_session: Session) -> Iterator[Session]:
    """Bind every SessionFactory to this test's session for the duration of the test."""
    token = FACTORY_SESSION.set(db_session)
    yield db_session
    FACTORY_SESSION.reset(token)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport() -> None:
    """Ctrl-C during a SQL call failed the call at once; the run stops here, once
    that failure is reported (deadlines.py)."""
    raise_pending_interrupt()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that hit a table the database lacks: say where tables come from."""
    report = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if (
        report.failed
        and isinstance(error, DBAPIError)
        and _MISSING_TABLE.search(str(error))
    ):
        report.sections.append(("where the tables come from", MISSING_TABLE_HINT))
    return report
