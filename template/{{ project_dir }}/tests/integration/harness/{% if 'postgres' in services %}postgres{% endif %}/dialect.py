"""PostgreSQL's part of the SQL core: template databases, advisory locks, sequences."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from ..sql.dialect import SqlDialect, TableName

if TYPE_CHECKING:
    import psycopg

    from ..settings import RunSettings
    from ..sql.server import DatabaseServer

logger = logging.getLogger(__name__)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class PostgresDialect(SqlDialect):
    service = "postgres"
    # psycopg 3 serves sync and async engines alike.
    sync_driver = "postgresql+psycopg"
    async_driver = "postgresql+psycopg"
    maintenance_databases = frozenset({"postgres", "template1"})
    # CREATE DATABASE: ~0.1 s on an idle server, a rename: under 1 ms.
    makes_spares = True

    def admin_databases(self, url_database: str | None) -> list[str | None]:
        # A connection names a database; the URL's need not exist: the server's
        # own ones are there for this (CREATE DATABASE from any of them).
        maintenance = ["postgres", "template1"]
        return [url_database, *(name for name in maintenance if name != url_database)]

    def is_missing_database(self, error: BaseException) -> bool:
        # libpq says it only in words: FATAL:  database "x" does not exist
        text = str(getattr(error, "orig", None) or error)
        return 'database "' in text and "does not exist" in text

    def connect_args(
        self, settings: RunSettings, *, asynchronous: bool = False
    ) -> dict[str, Any]:
        del asynchronous  # the same libpq settings for both
        call = _ms(settings.call_timeout)
        return {
            # libpq's own limit on the whole connection start-up (TCP, TLS, auth).
            "connect_timeout": max(2, round(settings.connect_timeout)),
            # The server ends a statement, or a wait for a lock, that takes longer.
            "options": f"-c statement_timeout={call} -c lock_timeout={call}",
            # A network that silently drops packets ends the connection too.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": call,
        }

    def current_database(self, connection: Connection) -> str:
        return str(connection.execute(text("SELECT current_database()")).scalar_one())

    def list_databases(self, admin: Connection, prefix: str) -> list[str]:
        query = text(
            "SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"
        )
        return list(admin.execute(query, {"prefix": prefix}).scalars())

    def create_database(self, admin: Connection, name: str) -> None:
        admin.execute(text(f'CREATE DATABASE "{name}"'))

    def drop_database(self, admin: Connection, name: str, *, force: bool) -> None:
        clause = " WITH (FORCE)" if force else ""
        admin.execute(text(f'DROP DATABASE IF EXISTS "{name}"{clause}'))

    def clone_database(self, server: DatabaseServer, template: str, name: str) -> None:
        # The server copies the template's files: no DDL runs again.
        with server.admin() as admin:
            admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def publish_template(self, server: DatabaseServer, scratch: str, name: str) -> None:
        with server.admin() as admin:
            # Migrations may leave pooled connections behind (an env.py engine never
            # disposed); they would block the rename. The scratch database is ours.
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": scratch},
            )
            admin.execute(text(f'ALTER DATABASE "{scratch}" RENAME TO "{name}"'))
            # Nobody connects to a template: a connection would make cloning it fail.
            admin.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))

    def claim_database(self, server: DatabaseServer, kept: str, name: str) -> bool:
        # RENAME is atomic and fails while anyone is connected to `kept`: a kept
        # database is either ours now or still there for whoever has it.
        with server.admin() as admin:
            return _renamed(admin, kept, name)

    def release_database(self, server: DatabaseServer, name: str, kept: str) -> bool:
        with server.admin() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            return _renamed(admin, name, kept)

    def take_spare(self, admin: Connection, spare: str, name: str) -> bool:
        # Only a database as leave_spare makes it (nobody may connect to it, not a
        # template, ours): one that merely has the name (somebody's own) is never
        # taken, and so never dropped at the end of the run. Looked up first:
        # renaming a database that is not there would log an error on the server
        # at every run without one.
        marked = admin.execute(
            text(
                "SELECT NOT datallowconn AND NOT datistemplate "
                "AND pg_get_userbyid(datdba) = current_user "
                "FROM pg_database WHERE datname = :spare"
            ),
            {"spare": spare},
        ).scalar()
        if not (marked and _renamed(admin, spare, name)):
            return False
        admin.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        return True

    def leave_spare(self, server: DatabaseServer, name: str) -> None:
        # The server finishes a statement it has received although the client hangs
        # up right after sending it: the ~0.1 s CREATE happens after pytest has
        # exited, between two runs. SQLAlchemy always waits for a statement's
        # result, hence psycopg's libpq interface for the CREATE itself. The
        # advisory lock, held by that session until the CREATE is done, lets one
        # worker or run create it. ALLOW_CONNECTIONS false is the mark take_spare
        # looks for.
        import psycopg

        try:
            with server.admin() as admin:
                wanted = admin.execute(
                    text(
                        "SELECT pg_try_advisory_lock(hashtext(:name)) AND NOT EXISTS "
                        "(SELECT FROM pg_database WHERE datname = :name)"
                    ),
                    {"name": name},
                ).scalar()
                driver_connection = admin.connection.driver_connection
                if not wanted or driver_connection is None:
                    return
                try:
                    _send_without_waiting(
                        driver_connection,
                        f'CREATE DATABASE "{name}" WITH ALLOW_CONNECTIONS false',
                    )
                finally:
                    # Closed as it is: the ROLLBACK that ends a connection's use
                    # would fail (a command is in progress) and log a traceback.
                    admin.invalidate()
        except (DBAPIError, psycopg.Error) as error:
            logger.debug("spare database %s not started: %s", name, error)

    @contextmanager
    def exclusive(self, admin: Connection, key: str, timeout: float) -> Iterator[None]:
        # Waiting for another run's build is bounded like any start-up step.
        wait = _ms(timeout)
        admin.execute(text(f"SET statement_timeout = {wait}"))
        admin.execute(text(f"SET lock_timeout = {wait}"))
        admin.execute(text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": key})
        try:
            yield
        finally:
            admin.execute(
                text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key}
            )

    def user_schemas(self, connection: Connection) -> list[str | None]:
        inspector = inspect(connection)
        default = inspector.default_schema_name
        return [
            None if schema == default else schema
            for schema in inspector.get_schema_names()
            if schema != "information_schema" and not schema.startswith("pg_")
        ]

    def restart_sequences(
        self, connection: Connection, tables: list[TableName]
    ) -> None:
        del tables  # every sequence of the database, owned by a column or not
        names = connection.exec_driver_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
            "FROM pg_sequences"
        ).scalars()
        statement = "; ".join(f"ALTER SEQUENCE {name} RESTART" for name in names)
        if statement:
            connection.exec_driver_sql(statement)

    def socket_of(self, driver_connection: Any) -> int | None:
        # psycopg's Connection and AsyncConnection alike.
        return int(driver_connection.pgconn.socket)

    def is_busy(self, driver_connection: Any) -> bool:
        from psycopg.pq import TransactionStatus

        info = getattr(driver_connection, "info", None)
        return info is not None and info.transaction_status == TransactionStatus.ACTIVE


def _send_without_waiting(connection: psycopg.Connection[Any], statement: str) -> None:
    """Put `statement` on the wire and return; its result is never read."""
    pgconn = connection.pgconn
    # In blocking mode libpq has sent all of it when send_query returns: one short
    # line, which the socket's buffer takes at once (tcp_user_timeout bounds it).
    pgconn.nonblocking = 0
    pgconn.send_query(statement.encode())


def _renamed(admin: Connection, old: str, new: str) -> bool:
    """Rename `old` to `new`, atomically; False if `old` is gone or in use."""
    try:
        admin.execute(text(f'ALTER DATABASE "{old}" RENAME TO "{new}"'))
    except DBAPIError:
        return False
    return True


POSTGRES_DIALECT = PostgresDialect()
