"""MySQL's and MariaDB's part of the SQL core.

MySQL has no CREATE DATABASE ... TEMPLATE. A clone replays the template's own DDL
(SHOW CREATE TABLE, recorded once per process) with foreign key checks off, then
copies the template's rows with INSERT ... SELECT across databases: one round trip
per table, no Python-side DDL compilation, and the exact schema the template has
(indexes, foreign keys, defaults, AUTO_INCREMENT). Views, triggers and routines are
not copied. benchmarks/ compares this with running create_all() per clone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Connection, text

from ..errors import IntegrationSetupError
from ..sql.dialect import SqlDialect, TableName

if TYPE_CHECKING:
    from ..settings import RunSettings
    from ..sql.server import DatabaseServer

# Seconds a client call may outlast IT_CALL_TIMEOUT before the driver gives up: the
# server's own lock timeout should speak first, with the clearer message.
_CLIENT_GRACE_SECONDS = 5
# In the name of a published template (see sql/databases.py).
_PUBLISHED = "_tpl_"


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySqlDialect(SqlDialect):
    service = "mysql"
    sync_driver = "mysql+pymysql"
    async_driver = "mysql+aiomysql"
    maintenance_databases: ClassVar[frozenset[str]] = frozenset({"mysql"})

    def admin_databases(self, url_database: str | None) -> list[str | None]:
        # CREATE and DROP DATABASE need no current database: the URL's need not
        # exist, nor be one this user may open.
        del url_database
        return [None]

    def connect_args(
        self, settings: RunSettings, *, asynchronous: bool = False
    ) -> dict[str, Any]:
        lock_wait = max(1, round(settings.call_timeout))
        arguments: dict[str, Any] = {
            "connect_timeout": max(1, round(settings.connect_timeout)),
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {lock_wait}",
        }
        if not asynchronous:
            # PyMySQL's socket timeouts end any call the server leaves unanswered.
            client_limit = settings.call_timeout + _CLIENT_GRACE_SECONDS
            arguments |= {"read_timeout": client_limit, "write_timeout": client_limit}
        return arguments

    def current_database(self, connection: Connection) -> str:
        return str(connection.execute(text("SELECT DATABASE()")).scalar_one())

    def list_databases(self, admin: Connection, prefix: str) -> list[str]:
        names = admin.execute(text("SHOW DATABASES")).scalars()
        return [name for name in names if name.startswith(prefix)]

    def create_database(self, admin: Connection, name: str) -> None:
        admin.execute(text(f"CREATE DATABASE {_quote(name)} CHARACTER SET utf8mb4"))

    def drop_database(self, admin: Connection, name: str, *, force: bool) -> None:
        if force:
            # DROP DATABASE waits for every session holding a table of it open.
            sessions = admin.execute(
                text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE db = :name AND id <> CONNECTION_ID()"
                ),
                {"name": name},
            ).scalars()
            for session in list(sessions):
                admin.execute(text(f"KILL {int(session)}"))
        admin.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)}"))

    def clone_database(self, server: DatabaseServer, template: str, name: str) -> None:
        tables = _table_definitions(server, template)
        with server.admin() as admin:
            admin.execute(text(f"CREATE DATABASE {_quote(name)} CHARACTER SET utf8mb4"))
            admin.execute(text(f"USE {_quote(name)}"))
            admin.execute(text("SET SESSION foreign_key_checks = 0"))
            for _, definition in tables:
                admin.exec_driver_sql(definition)
            for table, _ in tables:
                admin.exec_driver_sql(
                    f"INSERT INTO {_quote(name)}.{_quote(table)} "  # noqa: S608 - catalog names
                    f"SELECT * FROM {_quote(template)}.{_quote(table)}"
                )

    def publish_template(self, server: DatabaseServer, scratch: str, name: str) -> None:
        # No RENAME DATABASE in MySQL: clone the finished scratch database, which is
        # cheap (see clone_database), and drop it.
        self.clone_database(server, scratch, name)
        server.drop(scratch)

    @contextmanager
    def exclusive(self, admin: Connection, key: str, timeout: float) -> Iterator[None]:
        got = admin.execute(
            text("SELECT GET_LOCK(:key, :timeout)"),
            {"key": key[-64:], "timeout": max(1, round(timeout))},
        ).scalar_one()
        if got != 1:
            raise IntegrationSetupError(
                f"waited {timeout:.0f} s for another run building {key}; "
                "raise IT_STARTUP_TIMEOUT if your schema takes that long to build"
            )
        try:
            yield
        finally:
            admin.execute(text("SELECT RELEASE_LOCK(:key)"), {"key": key[-64:]})

    def socket_of(self, driver_connection: Any) -> int | None:
        # PyMySQL bounds its own reads (read_timeout); aiomysql does not.
        writer = getattr(driver_connection, "_writer", None)
        if writer is None:
            return None
        sock = writer.transport.get_extra_info("socket")
        return None if sock is None else int(sock.fileno())

    def user_schemas(self, connection: Connection) -> list[str | None]:
        del connection
        return [None]  # the connection's own database; the others are other tests'

    def restart_sequences(
        self, connection: Connection, tables: list[TableName]
    ) -> None:
        # On an empty InnoDB table this resets the counter to 1 (metadata only).
        for table in tables:
            connection.execute(
                text(f"ALTER TABLE {_quote(table.name)} AUTO_INCREMENT = 1")
            )


# (server URL, template) -> (table, CREATE TABLE statement): a published template
# never changes, so each process reads it once.
_definitions: dict[tuple[str, str], list[tuple[str, str]]] = {}


def _table_definitions(server: DatabaseServer, template: str) -> list[tuple[str, str]]:
    """(table, CREATE TABLE statement) for every base table of `template`.

    Cached for published templates only: their names carry the schema's fingerprint,
    while a scratch database's name is used again for the next build.
    """
    key = (str(server.url), template)
    if key in _definitions:
        return _definitions[key]
    with server.admin() as admin:
        names = admin.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = :schema AND table_type = 'BASE TABLE'"
            ),
            {"schema": template},
        ).scalars()
        definitions = [
            (
                name,
                str(
                    admin.exec_driver_sql(
                        f"SHOW CREATE TABLE {_quote(template)}.{_quote(name)}"
                    ).one()[1]
                ),
            )
            for name in list(names)
        ]
    if _PUBLISHED in template:
        _definitions[key] = definitions
    return definitions


MYSQL_DIALECT = MySqlDialect()
