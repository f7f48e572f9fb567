"""PostgreSQL fixtures, layered like pytest-databases:

postgres_service   the server of this run (container, compose or IT_POSTGRES_URL)
postgres_server    guarded admin access to it
postgres_template  template database holding the schema, built once per schema
postgres_database  this xdist worker's clone of the template
postgres_engine    an Engine on that clone
db_isolation       the strategy this test runs under (marker or generated default)
isolated_database  the test's database under that strategy
db_session / db_sessionmaker / db_engine   what tests and code under test use
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from .databases import (
    PostgresServer,
    WorkerDatabase,
    create_worker_database,
    ensure_template,
    reap_abandoned_databases,
)
from .isolation import (
    IsolatedDatabase,
    IsolationChoice,
    fail_on_leaked_rows,
    fresh,
    rolled_back,
    truncated,
)
from .schema_source import AlembicSchema, MetadataSchema, SchemaSource


def schema_source() -> SchemaSource:
    """What tests/integration/schema.py (yours to edit) says the schema comes from."""
    from ... import schema

    if schema.ALEMBIC_INI is not None:
        return AlembicSchema(Path(schema.ALEMBIC_INI))
    return MetadataSchema(schema.schema_metadata())


@pytest.fixture(scope="session")
def postgres_service(request: pytest.FixtureRequest) -> ServiceEndpoint:
    return integration_plugin(request.config).endpoint("postgres")


@pytest.fixture(scope="session")
def postgres_server(postgres_service: ServiceEndpoint) -> Iterator[PostgresServer]:
    server = PostgresServer(postgres_service)
    yield server
    server.dispose()


@pytest.fixture(scope="session")
def postgres_template(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> str:
    run = integration_plugin(request.config).run
    reap_abandoned_databases(postgres_server, run)
    return ensure_template(postgres_server, schema_source(), run)


@pytest.fixture(scope="session")
def postgres_database(
    postgres_server: PostgresServer,
    postgres_template: str,
    request: pytest.FixtureRequest,
) -> Iterator[WorkerDatabase]:
    run = integration_plugin(request.config).run
    database = create_worker_database(postgres_server, postgres_template, run)
    yield database
    postgres_server.drop(database.name)


@pytest.fixture(scope="session")
def postgres_engine(postgres_database: WorkerDatabase) -> Iterator[Engine]:
    engine = create_engine(postgres_database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_isolation(request: pytest.FixtureRequest) -> IsolationChoice:
    """Which isolation this test runs under: `db_isolation.strategy`."""
    return IsolationChoice.for_test(request.node)


@pytest.fixture
def isolated_database(
    db_isolation: IsolationChoice,
    postgres_engine: Engine,
    postgres_server: PostgresServer,
    postgres_database: WorkerDatabase,
    request: pytest.FixtureRequest,
) -> Iterator[IsolatedDatabase]:
    plugin = integration_plugin(request.config)
    context: AbstractContextManager[IsolatedDatabase]
    if db_isolation.strategy == "rollback":
        context = rolled_back(postgres_engine, postgres_database)
    elif db_isolation.strategy == "truncate":
        context = truncated(
            postgres_engine,
            postgres_server,
            postgres_database,
            reset_sequences=db_isolation.reset_sequences,
        )
    else:
        context = fresh(postgres_server, postgres_database, plugin.run)
    with context as isolated:
        yield isolated
    if plugin.settings.check_leaks and db_isolation.strategy != "fresh":
        fail_on_leaked_rows(postgres_engine, postgres_database, db_isolation.strategy)


@pytest.fixture
def db_sessionmaker(isolated_database: IsolatedDatabase) -> sessionmaker[Session]:
    """Sessions for code under test that makes its own; same isolation as the test."""
    return isolated_database.sessionmaker


@pytest.fixture
def db_session(isolated_database: IsolatedDatabase) -> Iterator[Session]:
    with isolated_database.sessionmaker() as session:
        yield session


@pytest.fixture
def db_engine(isolated_database: IsolatedDatabase) -> Engine:
    """An Engine for code that opens its own connections; see IsolatedDatabase."""
    return isolated_database.engine
