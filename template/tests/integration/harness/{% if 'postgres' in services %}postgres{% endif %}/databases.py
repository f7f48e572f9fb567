"""Databases of a run: a template holding the schema, a clone per xdist worker, a clone
per `fresh` test. Cloning a template (CREATE DATABASE ... TEMPLATE) copies files on the
server: much faster than running DDL or migrations again for every worker or test.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, NullPool, create_engine, inspect, text
from sqlalchemy.engine import URL

from ..answers import PROJECT_NAME
from ..endpoints import ServiceEndpoint
from ..run_state import RunState, run_is_alive
from .safety import (
    ensure_connected_to,
    ensure_disposable_server,
    ensure_test_database_name,
)
from .schema_source import SchemaSource
from .service import sqlalchemy_url

DB_PREFIX = "test_" + re.sub(r"[^a-z0-9_]", "_", PROJECT_NAME.lower())[:24]
_RUN_DATABASE = re.compile(rf"^{DB_PREFIX}_([0-9a-f]{{12}})_")
_LOCK_TIMEOUT = "120s"


def template_database_name(fingerprint: str) -> str:
    return f"{DB_PREFIX}_tpl_{fingerprint}"


def run_database_name(run: RunState, suffix: str) -> str:
    """Every database of a run starts with the run id: the owner can sweep them."""
    return f"{DB_PREFIX}_{run.run_id}_{suffix}"


class PostgresServer:
    """Administrative access to one server: create, clone and drop test databases."""

    def __init__(self, endpoint: ServiceEndpoint) -> None:
        self.url = sqlalchemy_url(endpoint.url)
        ensure_disposable_server(endpoint, self.url)
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        self._admin = create_engine(
            self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )

    def url_for(self, database: str) -> URL:
        return self.url.set(database=database)

    @contextmanager
    def admin(self) -> Iterator[Connection]:
        with self._admin.connect() as connection:
            yield connection

    def exists(self, name: str) -> bool:
        with self.admin() as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            return conn.execute(query, {"name": name}).first() is not None

    def create(self, name: str, *, template: str | None = None) -> None:
        ensure_test_database_name(name)
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))

    def drop(self, name: str, *, force: bool = True) -> None:
        """Drop `name`; with force, connections still open to it are closed first."""
        ensure_test_database_name(name)
        with self.admin() as conn:
            conn.execute(
                text(
                    f'DROP DATABASE IF EXISTS "{name}"'
                    + (" WITH (FORCE)" if force else "")
                )
            )

    def databases(self, prefix: str) -> list[str]:
        with self.admin() as conn:
            query = text(
                "SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"
            )
            return list(conn.execute(query, {"prefix": prefix}).scalars())

    def dispose(self) -> None:
        self._admin.dispose()


def ensure_template(server: PostgresServer, schema: SchemaSource, run: RunState) -> str:
    """The template database for `schema`: built once, reused while it is unchanged.

    Its name carries the schema's fingerprint: a changed model or a new migration gets
    a new template, an unchanged one is reused by later runs when it was kept.
    """
    name = template_database_name(schema.fingerprint())
    with server.admin() as conn:
        # Workers and concurrent runs on the same server build it once, one at a time.
        conn.execute(text(f"SET lock_timeout = '{_LOCK_TIMEOUT}'"))
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        try:
            if not server.exists(name):
                started = time.monotonic()
                _build_template(server, schema, run, name)
                seconds = time.monotonic() - started
                run.remember("notes", f"postgres: built {name} in {seconds:.2f}s")
            elif name not in run.remembered("postgres-templates"):
                run.remember("notes", f"postgres: reused {name} from an earlier run")
        finally:
            conn.execute(
                text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name}
            )
    return name


def _build_template(
    server: PostgresServer, schema: SchemaSource, run: RunState, name: str
) -> None:
    # Build under a scratch name, rename at the end: nobody clones half a schema.
    scratch = run_database_name(run, "build")
    server.drop(scratch)
    server.create(scratch)
    engine = create_engine(server.url_for(scratch), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ensure_connected_to(conn, scratch)
        schema.build(server.url_for(scratch))
    finally:
        engine.dispose()
    with server.admin() as conn:
        # Migrations may leave pooled connections behind (an env.py engine that is
        # never disposed); they would block the rename. The scratch database is ours.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": scratch},
        )
        conn.execute(text(f'ALTER DATABASE "{scratch}" RENAME TO "{name}"'))
        # Nobody connects to a template: a connection would make cloning it fail.
        conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
    run.remember("postgres-templates", name)


@dataclass
class WorkerDatabase:
    """This worker's own clone of the template, and what it held when cloned."""

    name: str
    url: URL
    template: str
    # Children before parents, so DELETE never trips a foreign key.
    tables: list[str] = field(default_factory=list)
    # Row counts right after cloning: seed data that migrations may insert.
    baseline: dict[str, int] = field(default_factory=dict)


def create_worker_database(
    server: PostgresServer, template: str, run: RunState
) -> WorkerDatabase:
    name = run_database_name(run, run.worker)
    server.drop(name)
    server.create(name, template=template)
    database = WorkerDatabase(name=name, url=server.url_for(name), template=template)
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ensure_connected_to(conn, name)
            database.tables = user_tables(conn)
            database.baseline = row_counts(conn, database.tables)
    finally:
        engine.dispose()
    return database


def user_tables(conn: Connection) -> list[str]:
    """Quoted names of the tables tests may fill, children first; not Alembic's."""
    inspector = inspect(conn)
    names: list[str] = []
    for schema in inspector.get_schema_names():
        if schema == "information_schema" or schema.startswith("pg_"):
            continue
        for table, _ in reversed(
            inspector.get_sorted_table_and_fkc_names(schema=schema)
        ):
            if table is not None and table != "alembic_version":
                names.append(f'"{schema}"."{table}"')
    return names


def row_counts(conn: Connection, tables: list[str]) -> dict[str, int]:
    if not tables:
        return {}
    # The names come from the catalog, already quoted.
    query = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)  # noqa: S608
    return {name: int(count) for name, count in conn.execute(text(query))}


def drop_run_databases(endpoint: ServiceEndpoint, run: RunState, keep: bool) -> None:
    """Owner, end of run: drop this run's databases, and its templates unless kept."""
    server = PostgresServer(endpoint)
    try:
        for name in server.databases(f"{DB_PREFIX}_{run.run_id}_"):
            server.drop(name)
        if not keep:
            for name in run.remembered("postgres-templates"):
                server.drop(name)
    finally:
        server.dispose()


def reap_abandoned_databases(server: PostgresServer, run: RunState) -> None:
    """Drop databases of runs whose pytest died; no FORCE: a live run is never hurt."""
    for name in server.databases(f"{DB_PREFIX}_"):
        match = _RUN_DATABASE.match(name)
        if match and match.group(1) != run.run_id and not run_is_alive(match.group(1)):
            # In use by someone: then it is not abandoned after all.
            with contextlib.suppress(Exception):
                server.drop(name, force=False)
