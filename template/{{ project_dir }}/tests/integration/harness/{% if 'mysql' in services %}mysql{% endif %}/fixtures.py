"""MySQL fixtures, layered like pytest-databases:

mysql_service   the server of this run (container, compose or IT_MYSQL_URL)
mysql_server    guarded admin access to it
mysql_template  template database holding the schema, built once per schema
mysql_database  this xdist worker's clone of the template
mysql_engine    an Engine on that clone

The layers under the service are sql_layers' (sql/fixtures.py, SqlLayers): the same
objects db_session & co. use when database_service is "mysql".
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
    "mysql_database",
    "mysql_engine",
    "mysql_server",
    "mysql_service",
    "mysql_template",
]


@pytest.fixture(scope="session")
def mysql_service(pytestconfig: pytest.Config) -> ServiceEndpoint:
    return integration_plugin(pytestconfig).endpoint("mysql")


@pytest.fixture(scope="session")
def mysql_server(
    mysql_service: ServiceEndpoint, sql_layers: SqlLayers
) -> DatabaseServer:
    return sql_layers.server(mysql_service.service)


@pytest.fixture(scope="session")
def mysql_template(mysql_server: DatabaseServer, sql_layers: SqlLayers) -> str:
    return sql_layers.template(mysql_server.dialect.service)


@pytest.fixture(scope="session")
def mysql_database(
    mysql_server: DatabaseServer, sql_layers: SqlLayers
) -> WorkerDatabase:
    return sql_layers.database(mysql_server.dialect.service)


@pytest.fixture(scope="session")
def mysql_engine(mysql_server: DatabaseServer, sql_layers: SqlLayers) -> Engine:
    return sql_layers.engine(mysql_server.dialect.service)
