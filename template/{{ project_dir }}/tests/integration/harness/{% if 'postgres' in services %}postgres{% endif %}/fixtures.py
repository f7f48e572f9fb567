"""PostgreSQL fixtures, layered like pytest-databases (see sql/layers.py):

postgres_service   the server of this run: container, compose, embedded or external
postgres_server    guarded admin access to it
postgres_template  template database holding the schema, built once per schema
postgres_database  this xdist worker's clone of the template
postgres_engine    an Engine on that clone

db_session & co. (sql/fixtures.py) use these when database_service is "postgres".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from ..sql.databases import WorkerDatabase
from ..sql.layers import database_layer, engine_layer, server_layer, template_layer
from ..sql.server import DatabaseServer
from .dialect import POSTGRES_DIALECT
from .service import URL_ENV

__all__ = [
    "postgres_database",
    "postgres_engine",
    "postgres_server",
    "postgres_service",
    "postgres_template",
]


@pytest.fixture(scope="session")
def postgres_service(pytestconfig: pytest.Config) -> ServiceEndpoint:
    return integration_plugin(pytestconfig).endpoint("postgres")


@pytest.fixture(scope="session")
def postgres_server(
    postgres_service: ServiceEndpoint, pytestconfig: pytest.Config
) -> Iterator[DatabaseServer]:
    with server_layer(
        POSTGRES_DIALECT, postgres_service, pytestconfig, URL_ENV
    ) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server: DatabaseServer, pytestconfig: pytest.Config
) -> str:
    return template_layer(postgres_server, pytestconfig)


@pytest.fixture(scope="session")
def postgres_database(
    postgres_server: DatabaseServer,
    pytestconfig: pytest.Config,
) -> Iterator[WorkerDatabase]:
    with database_layer(postgres_server, pytestconfig) as database:
        yield database


@pytest.fixture(scope="session")
def postgres_engine(
    postgres_server: DatabaseServer, postgres_database: WorkerDatabase
) -> Iterator[Engine]:
    with engine_layer(postgres_server, postgres_database) as engine:
        yield engine
