"""How to start, reach and probe MySQL (or MariaDB: the same protocol and drivers).

PyMySQL and SQLAlchemy (with the SQL core, which needs it) are imported inside the
functions that use them: the catalog imports this module in every run, before the
run's services can start. A container is asked for ~0.1 s sooner for it, and a run
whose tests never touch MySQL does not pay for them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..answers import REGISTRY
from ..errors import Cause, ServiceRefusedError
from ..service_spec import ServiceSpec

if TYPE_CHECKING:
    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings

URL_ENV = REGISTRY["mysql"].url_env
# MySQL client and server error codes that say "it will not work".
_REFUSALS = {
    1044: Cause.CREDENTIALS,  # access denied for user to database
    1045: Cause.CREDENTIALS,  # access denied for user (password)
    1049: Cause.MISSING,  # unknown database
}
_CANNOT_CONNECT = 2003
_REFUSED_ERRNO = "111"  # ECONNREFUSED, as PyMySQL words it: "[Errno 111] ..."


def check_url(url: str) -> None:
    from ..sql.safety import check_database_url
    from .dialect import MYSQL_DIALECT

    check_database_url(
        url,
        backend="mysql",
        url_env=URL_ENV,
        maintenance=MYSQL_DIALECT.maintenance_databases,
    )


def probe(url: str, seconds: float) -> None:
    import pymysql  # type: ignore[import-untyped, unused-ignore]
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        connection = pymysql.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.username or "root",
            password=parsed.password or "",
            # Not the URL's database: administration needs none (MySqlDialect).
            database=None,
            # Whole seconds, rounded down: the probe ends within its time.
            connect_timeout=max(1, math.floor(seconds)),
            read_timeout=max(1, math.floor(seconds)),
        )
    except pymysql.err.OperationalError as exc:
        code = int(exc.args[0]) if exc.args else 0
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if code in _REFUSALS:
            raise ServiceRefusedError(_REFUSALS[code], message) from exc
        if code == _CANNOT_CONNECT and _REFUSED_ERRNO in message:
            raise ServiceRefusedError(Cause.NOTHING_LISTENS, message) from exc
        raise
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def is_connection_error(error: BaseException) -> bool:
    import pymysql  # type: ignore[import-untyped, unused-ignore]
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig or error
    codes = {_CANNOT_CONNECT, 2006, 2013}  # can't connect, gone away, lost
    return isinstance(error, pymysql.err.OperationalError) and bool(
        error.args and error.args[0] in codes
    )


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    from ..sql.databases import release_run as drop_run_databases
    from .dialect import MYSQL_DIALECT

    drop_run_databases(MYSQL_DIALECT, endpoint, run, settings, url_env=URL_ENV)


MYSQL = ServiceSpec.registered(
    "mysql",
    probe=probe,
    check_url=check_url,
    is_connection_error=is_connection_error,
    release_run=release_run,
    first_use_imports=("sqlalchemy.dialects.mysql.pymysql",),
    client_modules=("pymysql", "sqlalchemy.engine"),
    protocol="mysql",
)
