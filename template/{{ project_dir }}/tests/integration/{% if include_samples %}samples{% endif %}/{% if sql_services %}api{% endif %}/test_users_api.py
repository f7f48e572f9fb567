"""The API in process (FastAPI's TestClient), against the real database of the test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ..models import SampleUser

Headers = dict[str, str]


def _register(client: TestClient, email: str) -> int:
    response = client.post("/users", json={"email": email})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _users_seen_elsewhere(engine: Engine) -> int:
    """Count users on a connection of its own, like another process would."""
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(SampleUser)) or 0


def test_created_user_is_read_back_and_is_in_the_database(
    client: TestClient, db_session: Session
) -> None:
    # Given a user created through the API
    created = client.post(
        "/users", json={"email": "ada@example.test", "display_name": "Ada"}
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]

    # When it is read back
    fetched = client.get(f"/users/{user_id}")

    # Then the API returns it, and the row is in the database
    assert fetched.json() == {
        "id": user_id,
        "email": "ada@example.test",
        "display_name": "Ada",
    }
    row = db_session.get(SampleUser, user_id)
    assert row is not None
    assert row.display_name == "Ada"


@pytest.mark.isolation("rollback")
def test_a_handler_that_commits_still_leaves_nothing_behind(
    client: TestClient, db_session: Session, db_engine: Engine
) -> None:
    # Given the number of users any other connection sees
    before = _users_seen_elsewhere(db_engine)

    # When the handler commits a new user
    user_id = _register(client, "committed@example.test")

    # Then the test's transaction holds the row, and no one else sees it: the
    # commit only released a SAVEPOINT, and the rollback after the test removes it
    assert db_session.get(SampleUser, user_id) is not None
    assert _users_seen_elsewhere(db_engine) == before


def test_users_are_listed_in_pages_in_a_stable_order(client: TestClient) -> None:
    # Given five users
    ids = [_register(client, f"page{number}@example.test") for number in range(5)]

    # When the second page of two is asked for
    page = client.get("/users", params={"limit": 2, "offset": 2})

    # Then it holds the third and fourth user, and the total counts them all
    assert page.status_code == 200
    body = page.json()
    assert [user["id"] for user in body["items"]] == ids[2:4]
    assert (body["total"], body["limit"], body["offset"]) == (5, 2, 2)


def test_invalid_body_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/users", json={"email": "not an email"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "email"]
    assert error["type"] == "string_pattern_mismatch"


def test_unknown_user_is_404(client: TestClient) -> None:
    response = client.get("/users/2147483647")

    assert response.status_code == 404
    assert response.json() == {"detail": "no such user"}


def test_duplicate_email_is_409_and_the_transaction_stays_usable(
    client: TestClient, db_session: Session
) -> None:
    # Given a registered email
    _register(client, "twice@example.test")

    # When it is registered again
    conflict = client.post("/users", json={"email": "twice@example.test"})

    # Then the unique constraint says 409, and the database still takes work: the
    # failed INSERT rolled back to its SAVEPOINT, not the test's transaction
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "email already registered"}
    _register(client, "after@example.test")
    emails = db_session.scalars(select(SampleUser.email).order_by(SampleUser.id))
    assert list(emails) == ["twice@example.test", "after@example.test"]


def test_orders_need_a_valid_bearer_token(
    client: TestClient, signed_in: Callable[[int], Headers]
) -> None:
    order = {"total_cents": 1_250}

    # No token: FastAPI's HTTPBearer answers 401 and asks for one
    missing = client.post("/orders", json=order)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"

    # A token for a user that does not exist: 401 as well
    assert client.post("/orders", json=order, headers=signed_in(999)).status_code == 401

    # A real user's token: the order is theirs
    user_id = _register(client, "buyer@example.test")
    placed = client.post("/orders", json=order, headers=signed_in(user_id))
    assert placed.status_code == 201
    assert placed.json()["user_id"] == user_id


def test_someone_elses_order_is_403(
    client: TestClient, signed_in: Callable[[int], Headers]
) -> None:
    # Given an order of Alice's
    alice = _register(client, "alice@example.test")
    order = client.post("/orders", json={"total_cents": 500}, headers=signed_in(alice))
    order_id = order.json()["id"]

    # When Bob asks for it
    bob = _register(client, "bob@example.test")
    response = client.get(f"/orders/{order_id}", headers=signed_in(bob))

    # Then he is told it is not his; Alice gets it
    assert response.status_code == 403
    own = client.get(f"/orders/{order_id}", headers=signed_in(alice))
    assert own.status_code == 200


def test_cors_preflight_allows_only_the_front_end(client: TestClient) -> None:
    asks = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }

    # The browser asks before a cross-origin POST with a token; the front end may
    allowed = client.options(
        "/orders", headers={"Origin": "https://app.example.test", **asks}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.test"
    assert "POST" in allowed.headers["access-control-allow-methods"]

    # Any other origin may not
    refused = client.options(
        "/orders", headers={"Origin": "https://elsewhere.example.test", **asks}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
