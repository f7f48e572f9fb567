"""Guarded administrative access to one SQL server: create, clone and drop databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, NullPool, create_engine
from sqlalchemy.engine import URL

from ..endpoints import ServiceEndpoint
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
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        self._admin = self.engine_for(
            self.url.database, isolation_level="AUTOCOMMIT", pooled=False
        )

    def url_for(self, database: str | None) -> URL:
        return self.url.set(database=database)

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
        with self._admin.connect() as connection:
            yield connection

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
        self._admin.dispose()
