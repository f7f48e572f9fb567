"""The database fixtures tests use, the same for every SQL database, and the layers
under them. From a test to its Session, each step is a fixture or a call in this file:

db_session         a Session from isolated_database.sessionmaker
isolated_database  the test's database under db_isolation (isolation.py: rollback,
                   delete or fresh; under rollback, Sessions join its transaction)
db_isolation       the test's strategy: its marker, else default_db_isolation
                   (--it-isolation / IT_ISOLATION, else the copier answer; override it
                   in a conftest)
database_target    server, worker database and Engine of database_service (the first
                   SQL service generated unless overridden; the samples parametrize it)
sql_layers         SqlLayers: those three for each SQL service, made on first use
                   (server.py, databases.py); harness/<database>/fixtures.py names
                   them `postgres_engine`, `mysql_database`, ...
db_sessionmaker / db_engine   for code under test that makes its own
factory_session    binds factory-boy factories (factories.py) to db_session
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from contextvars import ContextVar
from functools import partial
from types import TracebackType
from typing import TypeVar, cast

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ..answers import REGISTRY
from ..catalog import SQL_SERVICES
from ..plugin import IntegrationPlugin, integration_plugin
from .databases import (
    WorkerDatabase,
    ensure_template,
    release_worker_database,
    worker_database,
)
from .deadlines import raise_pending_interrupt
from .isolation import IsolatedDatabase, IsolationChoice, SqlTarget, isolated
from .schema_source import schema_from_project
from .server import DatabaseServer
from .services import DIALECTS

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
    "sql_layers",
]

_Layer = TypeVar("_Layer")
# A layer that could not be made, and where it failed.
_Failure = tuple[BaseException, TracebackType | None]


class SqlLayers:
    """This worker's layers of each SQL service, each made once, on first use:

    server    guarded admin access to the run's server (server.py)
    template  the database holding the schema, built once per schema fingerprint
    database  this worker's clone of the template (databases.py), dropped at the end
    engine    a pooled Engine on that clone

    What pytest's session scope would do for one fixture per layer and service,
    written out so that a service is chosen by a value (database_service), not by a
    fixture name built from it. Closed at the end of the session, newest first.
    """

    def __init__(self, plugin: IntegrationPlugin, stack: ExitStack) -> None:
        self._plugin = plugin
        self._stack = stack
        self._made: dict[tuple[str, str], object] = {}
        self._failed: dict[tuple[str, str], _Failure] = {}

    def target(self, service: str) -> SqlTarget:
        """`service`'s layers; one line instead if the run has lost it."""
        self._plugin.require(service)
        if service not in DIALECTS:
            pytest.fail(
                f"database_service is {service!r}; "
                f"this suite has {', '.join(DIALECTS)}",
                pytrace=False,
            )
        return SqlTarget(
            self.server(service), self.database(service), self.engine(service)
        )

    def server(self, service: str) -> DatabaseServer:
        return self._once(service, "server", partial(self._new_server, service))

    def template(self, service: str) -> str:
        return self._once(service, "template", partial(self._new_template, service))

    def database(self, service: str) -> WorkerDatabase:
        return self._once(service, "database", partial(self._new_database, service))

    def engine(self, service: str) -> Engine:
        return self._once(service, "engine", partial(self._new_engine, service))

    def _new_server(self, service: str) -> DatabaseServer:
        endpoint = self._plugin.endpoint(service)
        with self._plugin.service_calls(service):
            server = DatabaseServer(
                DIALECTS[service],
                endpoint,
                self._plugin.settings,
                url_env=REGISTRY[service].url_env,
            )
        self._stack.callback(server.dispose)
        return server

    def _new_template(self, service: str) -> str:
        server = self.server(service)
        with self._plugin.service_calls(service):
            template = ensure_template(
                server,
                schema_from_project(),
                self._plugin.run,
                keep=self._plugin.settings.keep_services,
            )
        self._note_admin_database(server)
        return template

    def _new_database(self, service: str) -> WorkerDatabase:
        server = self.server(service)
        with self._plugin.service_calls(service):
            database = worker_database(
                server,
                schema_from_project(),
                self._plugin.run,
                keep=self._plugin.settings.keep_services,
            )
        self._note_admin_database(server)
        # At the end of the run: skipped when the server is gone (said once).
        release = partial(release_worker_database, server, database)
        self._stack.callback(self._plugin.clean_up, service, release)
        return database

    def _new_engine(self, service: str) -> Engine:
        engine = self.server(service).engine_for(self.database(service).name)
        self._stack.callback(engine.dispose)
        return engine

    def _note_admin_database(self, server: DatabaseServer) -> None:
        """One line in the run summary when the URL's database is not where the suite
        creates its own (it does not exist; see DatabaseServer.admin)."""
        if server.admin_note:
            self._plugin.run.remember("notes", server.admin_note)

    def _once(self, service: str, layer: str, make: Callable[[], _Layer]) -> _Layer:
        """Made on the first call; a failure is raised again on later calls, as
        pytest does for a session fixture (a broken schema is not rebuilt per test)."""
        key = (service, layer)
        if key in self._failed:
            error, traceback = self._failed[key]
            raise error.with_traceback(traceback)
        if key not in self._made:
            try:
                self._made[key] = make()
            except (Exception, pytest.fail.Exception, pytest.skip.Exception) as error:
                self._failed[key] = (error, error.__traceback__)
                raise
        return cast("_Layer", self._made[key])


@pytest.fixture(scope="session")
def sql_layers(pytestconfig: pytest.Config) -> Iterator[SqlLayers]:
    """This worker's layers of every SQL service, closed at the end of the session."""
    with ExitStack() as stack:
        yield SqlLayers(integration_plugin(pytestconfig), stack)


@pytest.fixture
def database_service() -> str:
    """The SQL service behind db_session & co.; override it to choose another."""
    return SQL_SERVICES[0]


@pytest.fixture
def database_target(database_service: str, sql_layers: SqlLayers) -> SqlTarget:
    """The layers of the chosen SQL service for this worker (made on first use)."""
    return sql_layers.target(database_service)


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
