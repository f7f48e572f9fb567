"""The sample app wired to the test's database, and a client calling it in process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from .app import create_app, get_session, issue_token

Headers = dict[str, str]


@pytest.fixture
def token_secret() -> str:
    """Signs the bearer tokens of test users; never a production secret."""
    return "test-token-secret"


@pytest.fixture
def app(db_sessionmaker: sessionmaker[Session], token_secret: str) -> FastAPI:
    """A new app whose requests use the test's sessions, not the app's own database."""
    app = create_app(token_secret=token_secret)

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
