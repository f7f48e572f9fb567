"""Guarded administrative access to one SQL server: create, clone and drop databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, NullPool, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from ..endpoints import ServiceEndpoint
from ..errors import IntegrationSetupError
from ..settings import RunSettings
from .deadlines import bound_calls
from .dialect import SqlDialect
from .safety import (
    ensure_connected_to,
    ensure_disposable_server,
    ensure_test_database_name,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class DatabaseServer:
    """One server of the run, through a dialect; destructive steps are guarded."""

    def __init__(
        self,
        dialect: SqlDialect,
        endpoint: ServiceEndpoint,
        settings: RunSettings,
        *,
        url_env: str,
    ) -> None:
        self.dialect = dialect
        self.settings = settings
        self.url_env = url_env
        self.url = dialect.sqlalchemy_url(endpoint.url)
        # A server the run did not start is there for the next run too: worth
        # leaving an empty database ready on it (see databases.new_empty_database).
        self.keeps_spares = dialect.makes_spares and not endpoint.started_by_suite
        ensure_disposable_server(
            self.url,
            url_env=url_env,
            maintenance=dialect.maintenance_databases,
            started_by_suite=endpoint.started_by_suite,
        )
        # Where CREATE/DROP DATABASE run, chosen at the first connection (see
        # _first_admin_connection); a line for the run summary if not the URL's.
        self._admin: Engine | None = None
        self._choosing_admin = threading.Lock()
        self.admin_note = ""

    def url_for(self, database: str | None) -> URL:
        # Not URL.set: it leaves the database as it was when given None.
        return self.url._replace(database=database)

    def engine_for(
        self,
        database: str | None,
        *,
        pooled: bool = True,
        isolation_level: str | None = None,
    ) -> Engine:
        """An Engine on `database` whose every wait is bounded (see deadlines.py)."""
        options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
        if isolation_level is not None:
            options["isolation_level"] = isolation_level
        engine = create_engine(
            self.url_for(database),
            connect_args=self.dialect.connect_args(self.settings),
            **options,
        )
        bound_calls(engine, self.dialect, self.settings)
        return engine

    def async_engine_for(self, database: str, *, pooled: bool = True) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
        engine = create_async_engine(
            self.dialect.sqlalchemy_url(self.url, database=database, asynchronous=True),
            connect_args=self.dialect.connect_args(self.settings, asynchronous=True),
            **options,
        )
        bound_calls(engine.sync_engine, self.dialect, self.settings)
        return engine

    @contextmanager
    def admin(self) -> Iterator[Connection]:
        """A connection for administration: CREATE, DROP, locks; autocommit."""
        if self._admin is not None:
            connection = self._admin.connect()
        else:
            with self._choosing_admin:  # threads of one worker choose once
                connection = (
                    self._first_admin_connection()
                    if self._admin is None
                    else self._admin.connect()
                )
        with connection:
            yield connection

    def _first_admin_connection(self) -> Connection:
        """Connect to the URL's database or, when it does not exist, to the next the
        dialect names (PostgreSQL: postgres, template1); the server stays on it.

        The URL's database only says where to connect: the suite creates its own
        databases next to it, so it need not exist, and nothing creates it.
        """
        wanted, *others = self.dialect.admin_databases(self.url.database)
        try:
            return self._connect_admin(wanted)
        except DBAPIError as error:
            if not (others and self.dialect.is_missing_database(error)):
                raise
            missing = error
        failures: list[str] = []
        for database in others:
            try:
                connection = self._connect_admin(database)
            except DBAPIError as error:
                failures.append(f"{database}: {_last_line(error)}")
                continue
            self.admin_note = (
                f"{self.dialect.service}: {wanted} ({self.url_env}) does not exist; "
                f"the suite creates its databases through {database} instead"
            )
            return connection
        raise IntegrationSetupError(
            f"{self.url_env} names database {wanted!r}, which does not exist on the "
            f"server, and this user may not connect to {' or '.join(map(str, others))} "
            f"instead to create the suite's databases ({'; '.join(failures)}). Point "
            f"{self.url_env} at a database this user may connect to."
        ) from missing

    def _connect_admin(self, database: str | None) -> Connection:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        engine = self.engine_for(database, isolation_level="AUTOCOMMIT", pooled=False)
        try:
            connection = engine.connect()
        except DBAPIError:
            engine.dispose()
            raise
        self._admin = engine
        return connection

    def exists(self, name: str) -> bool:
        with self.admin() as admin:
            return name in self.dialect.list_databases(admin, name)

    def databases(self, prefix: str) -> list[str]:
        with self.admin() as admin:
            return self.dialect.list_databases(admin, prefix)

    def create(self, name: str) -> None:
        ensure_test_database_name(name)
        with self.admin() as admin:
            self.dialect.create_database(admin, name)

    def recreate(self, name: str, *, spare: str = "") -> None:
        """`name` new and empty, over one admin connection: dropped first in case an
        earlier attempt of this worker (an xdist restart) left it; the spare database
        renamed when one is waiting."""
        ensure_test_database_name(name)
        with self.admin() as admin:
            self.dialect.drop_database(admin, name, force=True)
            if not (spare and self.dialect.take_spare(admin, spare, name)):
                self.dialect.create_database(admin, name)

    def leave_spare(self, name: str) -> None:
        """Have the server create the empty database `name` for a later run, and
        return without waiting for it (see the dialect's leave_spare)."""
        ensure_test_database_name(name)
        self.dialect.leave_spare(self, name)

    @contextmanager
    def setup_engine(self, database: str) -> Iterator[Engine]:
        """An Engine for setting up `database`, checked to be connected to it.

        One pooled connection, reused by every setup step (a new one costs a round
        trip and authentication), closed when setup is done.
        """
        engine = self.engine_for(database)
        try:
            with engine.connect() as connection:
                self.check_connected(connection, database)
            yield engine
        finally:
            engine.dispose()

    def clone(self, template: str, name: str) -> None:
        """A new database `name` with the schema and rows of `template`."""
        ensure_test_database_name(name)
        self.dialect.clone_database(self, template, name)

    def drop(self, name: str, *, force: bool = True) -> None:
        """Drop `name`; with force, sessions still connected to it are ended first."""
        ensure_test_database_name(name)
        with self.admin() as admin:
            self.dialect.drop_database(admin, name, force=force)

    def check_connected(self, connection: Connection, expected: str) -> None:
        ensure_connected_to(self.dialect.current_database(connection), expected)

    @contextmanager
    def exclusive(self, key: str) -> Iterator[None]:
        """Held by one process on any machine at a time: builds happen once."""
        with (
            self.admin() as admin,
            self.dialect.exclusive(admin, key, self.settings.lock_timeout),
        ):
            yield

    def dispose(self) -> None:
        if self._admin is not None:
            self._admin.dispose()


def _last_line(error: DBAPIError) -> str:
    """What the server said, without the driver's preamble."""
    lines = str(error.orig).strip().splitlines()
    return lines[-1] if lines else type(error.orig).__name__
