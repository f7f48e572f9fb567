"""PostgreSQL fixtures, layered like pytest-databases:

postgres_service   the server of this run: container, compose, embedded or external
postgres_server    guarded admin access to it
postgres_template  template database holding the schema, built once per schema
postgres_database  this xdist worker's clone of the template
postgres_engine    an Engine on that clone

The layers under the service are sql_layers' (sql/fixtures.py, SqlLayers): the same
objects db_session & co. use when database_service is "postgres".
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from ..sql.databases import WorkerDatabase
from ..sql.fixtures import SqlLayers
from ..sql.server import DatabaseServer

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
    postgres_service: ServiceEndpoint, sql_layers: SqlLayers
) -> DatabaseServer:
    return sql_layers.server(postgres_service.service)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: DatabaseServer, sql_layers: SqlLayers) -> str:
    return sql_layers.template(postgres_server.dialect.service)


@pytest.fixture(scope="session")
def postgres_database(
    postgres_server: DatabaseServer, sql_layers: SqlLayers
) -> WorkerDatabase:
    return sql_layers.database(postgres_server.dialect.service)


@pytest.fixture(scope="session")
def postgres_engine(postgres_server: DatabaseServer, sql_layers: SqlLayers) -> Engine:
    return sql_layers.engine(postgres_server.dialect.service)
