"""The session-wide layers under each SQL database's fixtures, written once:

server    guarded admin access to the run's server
template  the database holding the schema, built once per schema fingerprint
database  this xdist worker's clone of the template, dropped at the end
engine    a pooled Engine on that clone

postgres/fixtures.py and mysql/fixtures.py name them `<service>_server` & co.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from sqlalchemy import Engine

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from .databases import (
    WorkerDatabase,
    ensure_template,
    release_worker_database,
    worker_database,
)
from .dialect import SqlDialect
from .schema_source import schema_from_project
from .server import DatabaseServer


@contextmanager
def server_layer(
    dialect: SqlDialect, endpoint: ServiceEndpoint, config: pytest.Config, url_env: str
) -> Iterator[DatabaseServer]:
    plugin = integration_plugin(config)
    with plugin.service_calls(dialect.service):
        server = DatabaseServer(dialect, endpoint, plugin.settings, url_env=url_env)
    try:
        yield server
    finally:
        server.dispose()


def template_layer(server: DatabaseServer, config: pytest.Config) -> str:
    plugin = integration_plugin(config)
    with plugin.service_calls(server.dialect.service):
        template = ensure_template(
            server,
            schema_from_project(),
            plugin.run,
            keep=plugin.settings.keep_services,
        )
    _note_admin_database(server, config)
    return template


@contextmanager
def database_layer(
    server: DatabaseServer, config: pytest.Config
) -> Iterator[WorkerDatabase]:
    plugin = integration_plugin(config)
    service = server.dialect.service
    with plugin.service_calls(service):
        database = worker_database(
            server,
            schema_from_project(),
            plugin.run,
            keep=plugin.settings.keep_services,
        )
    _note_admin_database(server, config)
    yield database
    # At the end of the run: skipped when the server is gone (said once).
    plugin.clean_up(service, partial(release_worker_database, server, database))


def _note_admin_database(server: DatabaseServer, config: pytest.Config) -> None:
    """One line in the run summary when the URL's database is not where the suite
    creates its own (it does not exist; see DatabaseServer.admin)."""
    if server.admin_note:
        integration_plugin(config).run.remember("notes", server.admin_note)


@contextmanager
def engine_layer(server: DatabaseServer, database: WorkerDatabase) -> Iterator[Engine]:
    engine = server.engine_for(database.name)
    try:
        yield engine
    finally:
        engine.dispose()
