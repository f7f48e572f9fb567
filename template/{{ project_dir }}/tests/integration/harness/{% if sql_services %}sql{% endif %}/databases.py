"""Databases of a run: a template holding the schema, a clone per xdist worker, a clone
per `fresh` test. Cloning a template copies what is already built (PostgreSQL copies
files, MySQL replays the recorded DDL): far cheaper than running migrations again.
"""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    inspect,
    literal,
    select,
    table,
    union_all,
)
from sqlalchemy import func as sql_func

from ..answers import PROJECT_NAME
from ..endpoints import ServiceEndpoint
from ..run_state import RunState, checkout_id
from ..settings import RunSettings
from .dialect import SqlDialect, TableName
from .migrations import is_version_table
from .schema_source import MetadataSchema, SchemaSource
from .server import DatabaseServer

DB_PREFIX = "test_" + re.sub(r"[^a-z0-9_]", "_", PROJECT_NAME.lower())[:24]
TEMPLATE_MARK = "_tpl_"
# --it-keep leaves each worker's database for the next run of this checkout.
KEEP_MARK = "_keep_"
# An empty database the server makes once a run has ended; the next run renames it.
SPARE_NAME = f"{DB_PREFIX}_spare"


def kept_template_name(fingerprint: str) -> str:
    """A template kept for later runs (--it-keep): shared by every run that wants it."""
    return f"{DB_PREFIX}{TEMPLATE_MARK}{fingerprint}"


def kept_database_name(fingerprint: str, worker: str) -> str:
    """Where --it-keep leaves `worker`'s database between runs of this checkout."""
    return f"{DB_PREFIX}{KEEP_MARK}{checkout_id()}_{fingerprint}_{worker}"


def run_database_name(run: RunState, suffix: str) -> str:
    """Every database of a run starts with the run id: the owner can sweep them."""
    return f"{DB_PREFIX}_{run.run_id}_{suffix}"


def ensure_template(
    server: DatabaseServer, schema: SchemaSource, run: RunState, *, keep: bool
) -> str:
    """The template database for `schema`: built once per run, or once for good.

    Its name carries the schema's fingerprint: a changed model, a new migration or
    changed reference data gets a new one. A template kept by an earlier run
    (--it-keep) is used as it is; otherwise the run builds one named after itself,
    so that it goes with the run's other databases, even if the run dies.
    """
    fingerprint = schema.fingerprint(server.url.get_dialect()())
    service = server.dialect.service
    kept = kept_template_name(fingerprint)
    name = kept if keep else run_database_name(run, f"tpl_{fingerprint}")
    if not keep and server.exists(kept):
        run.remember("notes", f"{service}: reused {kept} (kept by an earlier run)")
        return kept
    # Workers of a run, or runs keeping templates, build it once, one at a time.
    with server.exclusive(name):
        if not server.exists(name):
            started = time.monotonic()
            _build_template(server, schema, run, name)
            seconds = time.monotonic() - started
            run.remember("notes", f"{service}: built {name} in {seconds:.2f}s")
        elif keep and name not in run.remembered(templates_record(server.dialect)):
            run.remember("notes", f"{service}: reused {name} (kept by an earlier run)")
    return name


def templates_record(dialect: SqlDialect) -> str:
    """The run-state list of templates a run built on this kind of server."""
    return f"templates-{dialect.service}"


def _build_template(
    server: DatabaseServer, schema: SchemaSource, run: RunState, name: str
) -> None:
    # Build under a scratch name and publish at the end: nobody clones half a schema.
    scratch = run_database_name(run, f"build_{run.worker}")
    server.drop(scratch)
    server.create(scratch)
    engine = server.engine_for(scratch, pooled=False)
    try:
        with engine.connect() as connection:
            server.check_connected(connection, scratch)
        schema.build(engine)
    finally:
        engine.dispose()
    run.remember(templates_record(server.dialect), name)
    server.dialect.publish_template(server, scratch, name)


@dataclass
class WorkerDatabase:
    """This worker's own clone of the template, and what it held when cloned."""

    name: str
    # None until a `fresh` test needs one (see worker_database).
    template: str | None
    # Where the database goes at the end of a --it-keep run ("": dropped).
    kept_name: str = ""
    # Dropped at the end, with a spare left for the next run (new_empty_database).
    leaves_spare: bool = False
    # Children before parents, so DELETE never trips a foreign key.
    tables: list[TableName] = field(default_factory=list)
    # Row counts right after cloning: reference data that the schema inserts.
    baseline: dict[TableName, int] = field(default_factory=dict)
    # Those rows themselves, to put back after a delete test emptied the tables.
    seed: dict[TableName, tuple[Table, list[dict[str, Any]]]] = field(
        default_factory=dict
    )


def worker_database(
    server: DatabaseServer, schema: SchemaSource, run: RunState, *, keep: bool
) -> WorkerDatabase:
    """This worker's database: reused from a --it-keep run, built, or cloned.

    A template pays only when building is slow (migrations) or when it is kept:
    a clone costs a CREATE DATABASE of its own, as much as building metadata in an
    empty database does, so without --it-keep metadata is built where it is used.
    """
    name = run_database_name(run, run.worker)
    if not keep and isinstance(schema, MetadataSchema):
        # The run's own name: nothing to reuse, so no fingerprint to compute.
        new_empty_database(server, name)
        with server.setup_engine(name) as engine:
            schema.build(engine)
            database = describe_worker_database(server, name, None, "", engine=engine)
        database.leaves_spare = server.keeps_spares
        return database
    fingerprint = schema.fingerprint(server.url.get_dialect()())
    kept = kept_database_name(fingerprint, run.worker) if keep else ""
    if kept and server.dialect.claim_database(server, kept, name):
        run.remember("notes", f"{server.dialect.service}: reused {kept}")
        return describe_worker_database(
            server, name, kept_template_name(fingerprint), kept
        )
    server.drop(name)
    template = ensure_template(server, schema, run, keep=keep)
    server.clone(template, name)
    return describe_worker_database(server, name, template, kept)


def new_empty_database(server: DatabaseServer, name: str) -> None:
    """`name` new and empty; on a server that outlives the run, from a spare.

    CREATE DATABASE is most of what a one-test run against a running PostgreSQL
    waits for: it copies template1 and syncs it (~0.1 s). A run that ends leaves
    the server creating an empty database, SPARE_NAME, after it has exited; the next
    run renames it to its own. That one database stays between runs.
    """
    server.recreate(name, spare=SPARE_NAME if server.keeps_spares else "")


def release_worker_database(server: DatabaseServer, database: WorkerDatabase) -> None:
    """End of the worker's session: keep the database for the next run, or drop it.

    Kept only when it holds exactly the rows it started with: rows a test leaked
    must not reach every later run.
    """
    if database.kept_name:
        engine = server.engine_for(database.name, pooled=False)
        try:
            with engine.connect() as connection:
                clean = row_counts(connection, database.tables) == database.baseline
        finally:
            engine.dispose()
        if clean and server.dialect.release_database(
            server, database.name, database.kept_name
        ):
            return
    server.drop(database.name)
    if database.leaves_spare:
        server.leave_spare(SPARE_NAME)


def describe_worker_database(
    server: DatabaseServer,
    name: str,
    template: str | None,
    kept: str,
    *,
    engine: Engine | None = None,
) -> WorkerDatabase:
    """What the database holds now; through `engine` when the caller has one open."""
    database = WorkerDatabase(name=name, template=template, kept_name=kept)
    with ExitStack() as stack:
        if engine is None:
            engine = stack.enter_context(server.setup_engine(name))
        with engine.connect() as connection:
            database.tables = user_tables(connection, server.dialect)
            database.baseline = row_counts(connection, database.tables)
            database.seed = seed_rows(connection, database.baseline)
    return database


def seed_rows(
    connection: Connection, baseline: dict[TableName, int]
) -> dict[TableName, tuple[Table, list[dict[str, Any]]]]:
    """The rows of every table that is not empty in the template, with its columns."""
    seed: dict[TableName, tuple[Table, list[dict[str, Any]]]] = {}
    metadata = MetaData()
    for name, count in baseline.items():
        if count:
            reflected = Table(
                name.name, metadata, schema=name.schema, autoload_with=connection
            )
            rows = [
                dict(row) for row in connection.execute(select(reflected)).mappings()
            ]
            seed[name] = (reflected, rows)
    return seed


def user_tables(connection: Connection, dialect: SqlDialect) -> list[TableName]:
    """The tables tests may fill, children first; not Alembic's bookkeeping table."""
    inspector = inspect(connection)
    names: list[TableName] = []
    for schema in dialect.user_schemas(connection):
        columns = inspector.get_multi_columns(schema=schema)
        for name, _ in reversed(inspector.get_sorted_table_and_fkc_names(schema)):
            if name is None or is_version_table(columns.get((schema, name), [])):
                continue
            names.append(TableName(schema, name))
    return names


def row_counts(connection: Connection, tables: list[TableName]) -> dict[TableName, int]:
    """Rows per table, in one round trip."""
    if not tables:
        return {}
    counts = [
        select(literal(position), sql_func.count()).select_from(
            table(each.name, schema=each.schema)
        )
        for position, each in enumerate(tables)
    ]
    rows = connection.execute(union_all(*counts)).all()
    return {tables[int(position)]: int(count) for position, count in rows}


def release_run(
    dialect: SqlDialect,
    endpoint: ServiceEndpoint,
    run: RunState,
    settings: RunSettings,
    *,
    url_env: str,
) -> None:
    """A service's `release_run`: the databases the run made."""
    server = DatabaseServer(dialect, endpoint, settings, url_env=url_env)
    try:
        drop_run_databases(server, run)
    finally:
        server.dispose()


def drop_run_databases(server: DatabaseServer, run: RunState) -> None:
    """Owner, end of run: drop this run's databases (templates kept for later runs
    are not the run's: they carry no run id)."""
    for name in server.databases(f"{DB_PREFIX}_{run.run_id}_"):
        server.drop(name)
