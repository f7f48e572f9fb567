"""The sample app wired to the test's database, and a client calling it in process."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from .app import create_app, get_session, issue_token

Headers = dict[str, str]


def pytest_configure(config: pytest.Config) -> None:
    """Schemathesis' pytest plugin, for the contract tests of this folder only.

    Importing it costs about half a second, at every pytest start and in every xdist
    worker: tests/integration/pytest.ini switches its automatic loading off
    (-p no:schemathesis), and this folder, the one that needs it, switches it on.
    Copy this hook into the conftest.py of your own contract tests.
    """
    if not config.pluginmanager.has_plugin(_SCHEMATHESIS):
        plugin = importlib.import_module("schemathesis.pytest.plugin")
        config.pluginmanager.register(plugin, _SCHEMATHESIS)


_SCHEMATHESIS = "schemathesis-for-contract-tests"


@pytest.fixture
def token_secret() -> str:
    """Signs the bearer tokens of test users; never a production secret."""
    return "test-token-secret"


@pytest.fixture
def webhook_secret() -> str:
    """Shared with the sender of webhooks (the payment provider, in the samples)."""
    return "test-webhook-secret"


@pytest.fixture
def app(
    db_sessionmaker: sessionmaker[Session], token_secret: str, webhook_secret: str
) -> FastAPI:
    """A new app whose requests use the test's sessions, not the app's own database."""
    app = create_app(token_secret=token_secret, webhook_secret=webhook_secret)

    def session_of_the_test() -> Iterator[Session]:
        # A session per request, as the app's own dependency gives; under rollback
        # isolation each one joins the test's transaction.
        with db_sessionmaker() as session:
            yield session

    app.dependency_overrides[get_session] = session_of_the_test
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Requests go straight into the app (no socket); `with` also runs its lifespan."""
    with TestClient(app, base_url="http://api.test") as client:
        yield client


@pytest.fixture
def signed_in(token_secret: str) -> Callable[[int], Headers]:
    """Headers of a request made by that user, as after your login."""

    def headers(user_id: int) -> Headers:
        return {"Authorization": f"Bearer {issue_token(user_id, token_secret)}"}

    return headers
