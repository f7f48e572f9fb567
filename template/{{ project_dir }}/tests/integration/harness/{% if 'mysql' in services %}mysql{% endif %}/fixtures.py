"""MySQL fixtures, layered like pytest-databases (see sql/layers.py):

mysql_service   the server of this run (container, compose or IT_MYSQL_URL)
mysql_server    guarded admin access to it
mysql_template  template database holding the schema, built once per schema
mysql_database  this xdist worker's clone of the template
mysql_engine    an Engine on that clone

db_session & co. (sql/fixtures.py) use these when database_service is "mysql".
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
from .dialect import MYSQL_DIALECT
from .service import URL_ENV

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
    mysql_service: ServiceEndpoint, pytestconfig: pytest.Config
) -> Iterator[DatabaseServer]:
    with server_layer(MYSQL_DIALECT, mysql_service, pytestconfig, URL_ENV) as server:
        yield server


@pytest.fixture(scope="session")
def mysql_template(mysql_server: DatabaseServer, pytestconfig: pytest.Config) -> str:
    return template_layer(mysql_server, pytestconfig)


@pytest.fixture(scope="session")
def mysql_database(
    mysql_server: DatabaseServer,
    pytestconfig: pytest.Config,
) -> Iterator[WorkerDatabase]:
    with database_layer(mysql_server, pytestconfig) as database:
        yield database


@pytest.fixture(scope="session")
def mysql_engine(
    mysql_server: DatabaseServer, mysql_database: WorkerDatabase
) -> Iterator[Engine]:
    with engine_layer(mysql_server, mysql_database) as engine:
        yield engine
