"""How to start, reach and probe PostgreSQL.

psycopg and SQLAlchemy (with the SQL core, which needs it) are imported inside the
functions that use them: the catalog imports this module in every run, before the
run's services can start. A container is asked for ~0.1 s sooner for it, and a run
whose tests never touch PostgreSQL does not pay for them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..answers import REGISTRY
from ..errors import Cause, ServiceRefusedError
from ..service_spec import ServiceSpec
from .embedded import EmbeddedPostgres

if TYPE_CHECKING:
    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings

URL_ENV = REGISTRY["postgres"].url_env
# The container runs `postgres` with the registry's flags (durability buys nothing
# in a throw-away test server); the embedded server runs with the same ones.
FAST_SERVER_FLAGS = REGISTRY["postgres"].container.command[1:]
# libpq says why it could not connect only in words; these say "it will not work".
_REFUSALS = (
    ("connection refused", Cause.NOTHING_LISTENS),
    ("password authentication failed", Cause.CREDENTIALS),
    ("no pg_hba.conf entry", Cause.CREDENTIALS),
    ("role ", Cause.CREDENTIALS),  # role "x" does not exist
    ("database ", Cause.MISSING),  # database "x" does not exist
)


def libpq_conninfo(url: str) -> str:
    """A URL libpq understands (no SQLAlchemy driver suffix)."""
    from sqlalchemy.engine import make_url

    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def check_url(url: str) -> None:
    from ..sql.safety import check_database_url
    from .dialect import POSTGRES_DIALECT

    check_database_url(
        url,
        backend="postgresql",
        url_env=URL_ENV,
        maintenance=POSTGRES_DIALECT.maintenance_databases,
    )


def probe(url: str, seconds: float) -> None:
    """One round trip. The URL's database need not exist: the suite creates its
    own through the server's maintenance database then (sql/server.py)."""
    try:
        _probe_database(url, seconds)
    except ServiceRefusedError as refusal:
        if refusal.cause is not Cause.MISSING or not _maintenance_answers(url, seconds):
            raise


def _maintenance_answers(url: str, seconds: float) -> bool:
    import psycopg
    from sqlalchemy.engine import make_url

    from .dialect import POSTGRES_DIALECT

    parsed = make_url(url)
    # A tuple, not `except (A, B)`: ruff formats that differently per Python version.
    unanswered = (ServiceRefusedError, psycopg.OperationalError)
    for database in POSTGRES_DIALECT.admin_databases(parsed.database)[1:]:
        other = parsed.set(database=database).render_as_string(hide_password=False)
        try:
            _probe_database(other, seconds)
        except unanswered:
            continue
        return True
    return False


def _probe_database(url: str, seconds: float) -> None:
    import psycopg

    conninfo = libpq_conninfo(url)
    try:
        with psycopg.connect(
            conninfo, connect_timeout=_attempt_seconds(conninfo, seconds)
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        lowered = str(exc).lower()
        for words, cause in _REFUSALS:
            if words in lowered and (cause is not Cause.MISSING or "exist" in lowered):
                raise ServiceRefusedError(cause, message) from exc
        raise


def _attempt_seconds(conninfo: str, seconds: float) -> int:
    """psycopg's connect_timeout for a connect that must end within `seconds`.

    psycopg tries every address a host name resolves to (localhost: ::1, then
    127.0.0.1, both published by Docker), each with the whole connect_timeout, in
    whole seconds and no less than 2: a frozen server would hold a probe for twice
    its time. The time is shared out, rounded down.
    """
    import psycopg
    from psycopg.conninfo import conninfo_attempts, conninfo_to_dict

    try:
        attempts = len(conninfo_attempts(conninfo_to_dict(conninfo)))
    except psycopg.Error:  # unresolvable: connect says so, with the name
        attempts = 1
    return max(2, math.floor(seconds / max(1, attempts)))


def is_connection_error(error: BaseException) -> bool:
    import psycopg
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig or error
    return isinstance(error, psycopg.OperationalError) and not isinstance(
        error, psycopg.errors.QueryCanceled
    )


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    from ..sql.databases import release_run as drop_run_databases
    from .dialect import POSTGRES_DIALECT

    drop_run_databases(POSTGRES_DIALECT, endpoint, run, settings, url_env=URL_ENV)


POSTGRES = ServiceSpec.registered(
    "postgres",
    probe=probe,
    check_url=check_url,
    is_connection_error=is_connection_error,
    release_run=release_run,
    embedded=EmbeddedPostgres(server_flags=FAST_SERVER_FLAGS),
    first_use_imports=("sqlalchemy.dialects.postgresql.psycopg",),
    client_modules=("psycopg", "sqlalchemy.engine"),
    protocol="postgres",
)
