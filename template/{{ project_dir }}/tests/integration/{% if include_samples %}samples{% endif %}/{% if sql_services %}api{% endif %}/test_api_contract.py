"""The API against its own OpenAPI schema: property-based tests with Schemathesis.

Schemathesis reads /openapi.json in process and, for each operation, sends requests
built from the schema (valid ones, edge cases, invalid ones) to the app wired to the
test's real database. Every response must be no 5xx, a documented status code, and a
body that matches the schema. It finds what hand-written tests miss: a field the
database cannot hold, an undocumented 404, a response that leaks a column.

Each generated example runs in a SAVEPOINT of its own, rolled back after it: the
examples of one operation never see each other's rows, so a failure replays alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from ..models import SampleUser
from .app import create_app, get_session, issue_token

# Bounded, so the suite stays fast; raise it (or set it in CI only) to search harder.
MAX_EXAMPLES = 10
TOKEN_SECRET = "contract-token-secret"  # noqa: S105 - signs tokens of test users only
APP = create_app(token_secret=TOKEN_SECRET)
# Loads the schema from the app itself, in process. The app opens no connection at
# start-up: its database comes from the fixtures below, per test.
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# One connection, one transaction per test: what the per-example SAVEPOINT needs.
pytestmark = pytest.mark.isolation("rollback")


@pytest.fixture
def connection(db_session: Session) -> Connection:
    """The test's connection, which every request's session joins."""
    return db_session.connection()


@pytest.fixture(autouse=True)
def app_on_the_tests_database(db_sessionmaker: sessionmaker[Session]) -> Iterator[None]:
    """While the test runs, the app's sessions are the test's."""

    def session_of_the_test() -> Iterator[Session]:
        with db_sessionmaker() as session:
            yield session

    APP.dependency_overrides[get_session] = session_of_the_test
    yield
    APP.dependency_overrides.clear()


@pytest.fixture
def headers(db_sessionmaker: sessionmaker[Session]) -> dict[str, str]:
    """Requests as a real user, so that the operations behind the token run too."""
    with db_sessionmaker() as session:
        user = SampleUser(email="contract@example.test")
        session.add(user)
        session.commit()
        return {"Authorization": f"Bearer {issue_token(user.id, TOKEN_SECRET)}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # The fixtures are per test, not per example: the SAVEPOINT below is.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_honours_its_schema(
    case: schemathesis.Case[Any], connection: Connection, headers: dict[str, str]
) -> None:
    savepoint = connection.begin_nested()
    try:
        case.call_and_validate(headers=headers, checks=CHECKS)
    finally:
        savepoint.rollback()
