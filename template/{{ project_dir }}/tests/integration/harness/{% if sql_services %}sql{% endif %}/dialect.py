"""SqlDialect: what one SQL database does its own way. Everything else is shared.

The SQL core (isolation, per-worker databases, schema, factories, safety) is written
once against this interface; postgres/dialect.py and mysql/dialect.py implement it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from ..settings import RunSettings
    from .server import DatabaseServer


@dataclass(frozen=True, order=True)
class TableName:
    """A table tests may fill; `schema` is None for the connection's default schema."""

    schema: str | None
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


class SqlDialect(ABC):
    """The database-specific part of providing isolated test databases."""

    service: ClassVar[str]
    sync_driver: ClassVar[str]
    async_driver: ClassVar[str]
    # Databases a URL may name although "test" is not in their name: the suite only
    # connects there to create databases of its own next to them.
    maintenance_databases: ClassVar[frozenset[str]]
    # Whether an empty database is worth leaving ready for the next run (take_spare,
    # leave_spare): PostgreSQL's CREATE DATABASE copies template1 and syncs it to disk.
    makes_spares: ClassVar[bool] = False

    def sqlalchemy_url(
        self, url: str | URL, *, database: str | None = None, asynchronous: bool = False
    ) -> URL:
        """`url` with this dialect's driver, maybe for another database."""
        driver = self.async_driver if asynchronous else self.sync_driver
        parsed = make_url(url).set(drivername=driver)
        return parsed.set(database=database) if database is not None else parsed

    @abstractmethod
    def connect_args(
        self, settings: RunSettings, *, asynchronous: bool = False
    ) -> dict[str, Any]:
        """Driver arguments that bound every wait: connecting, statements, locks."""

    @abstractmethod
    def current_database(self, connection: Connection) -> str:
        """The database the server says this connection is using."""

    @abstractmethod
    def list_databases(self, admin: Connection, prefix: str) -> list[str]:
        """Names of the databases on the server that start with `prefix`."""

    @abstractmethod
    def create_database(self, admin: Connection, name: str) -> None: ...

    @abstractmethod
    def drop_database(self, admin: Connection, name: str, *, force: bool) -> None:
        """Drop `name` if it exists; with force, sessions still using it end first."""

    @abstractmethod
    def clone_database(self, server: DatabaseServer, template: str, name: str) -> None:
        """Create `name` holding the schema and rows of `template`."""

    @abstractmethod
    def publish_template(self, server: DatabaseServer, scratch: str, name: str) -> None:
        """Make the fully built `scratch` database the template `name`, at once.

        Nobody may ever clone half a schema: a crash while building leaves only the
        scratch database, which the run's clean-up drops.
        """

    def admin_databases(self, url_database: str | None) -> list[str | None]:
        """Where to connect to create and drop databases, best first: the next is
        tried when the one before does not exist (is_missing_database)."""
        return [url_database]

    def is_missing_database(self, error: BaseException) -> bool:  # noqa: ARG002 - a default
        """Whether connecting failed because the database is not on the server."""
        return False

    def claim_database(self, server: DatabaseServer, kept: str, name: str) -> bool:
        """Take the kept database `kept` as `name`, atomically; False if it is not
        there (or another run took it first)."""
        del server, kept, name
        return False

    def release_database(self, server: DatabaseServer, name: str, kept: str) -> bool:
        """Leave `name` as `kept` for the next run; False: drop it instead."""
        del server, name, kept
        return False

    def take_spare(self, admin: Connection, spare: str, name: str) -> bool:
        """Make the empty database `spare`, created ahead by an earlier run, `name`;
        False if none is waiting (or another run took it first)."""
        del admin, spare, name
        return False

    def leave_spare(self, server: DatabaseServer, name: str) -> None:
        """Start the creation of the empty database `name` for a later run, unless
        it is there, and return without waiting for it; best effort, never raises."""
        del server, name

    @abstractmethod
    def exclusive(
        self, admin: Connection, key: str, timeout: float
    ) -> AbstractContextManager[None]:
        """A server-wide lock on `key`: concurrent runs build a template once."""

    @abstractmethod
    def user_schemas(self, connection: Connection) -> list[str | None]:
        """Schemas whose tables belong to the test database (None: the default one)."""

    @abstractmethod
    def restart_sequences(
        self, connection: Connection, tables: list[TableName]
    ) -> None:
        """Number new rows from 1 again (serial, identity, AUTO_INCREMENT columns)."""

    def socket_of(self, driver_connection: Any) -> int | None:  # noqa: ARG002 - a default
        """The socket a blocked call waits on, for deadlines.py; None: the driver
        bounds its own calls."""
        return None

    def is_busy(self, driver_connection: Any) -> bool:  # noqa: ARG002 - a default
        """Whether a call is still in flight on the connection (a test timed out in it).

        Such a connection must be closed, never rolled back: ROLLBACK would wait behind
        the call that is stuck.
        """
        return False


def quoted(connection: Connection, table: TableName) -> str:
    """`table` quoted for this connection's dialect."""
    preparer = connection.dialect.identifier_preparer
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(table.schema)}.{name}" if table.schema else name
