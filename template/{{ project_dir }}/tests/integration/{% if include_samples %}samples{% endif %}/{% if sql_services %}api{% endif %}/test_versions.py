"""/v1 and /v2 of one resource, and content negotiation, in process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ..models import SampleUser


@pytest.fixture
def user_id(db_session: Session) -> int:
    user = SampleUser(email="grace@example.test", display_name="Grace")
    db_session.add(user)
    db_session.commit()
    return user.id


def test_both_versions_serve_the_same_row(
    client: TestClient, db_session: Session, user_id: int
) -> None:
    # Given a change made once, in the one table both versions read
    user = db_session.get_one(SampleUser, user_id)
    user.display_name = "Grace H."
    db_session.commit()

    # When each version is asked for the user
    v1 = client.get(f"/v1/users/{user_id}").json()
    v2 = client.get(f"/v2/users/{user_id}").json()

    # Then each has its own shape, and both show the change
    assert v1 == {
        "id": user_id,
        "email": "grace@example.test",
        "display_name": "Grace H.",
    }
    assert v2 == {
        "id": user_id,
        "email": "grace@example.test",
        "profile": {"display_name": "Grace H.", "newsletter": False},
    }


def test_v1_says_it_is_deprecated_and_names_its_successor(
    client: TestClient, user_id: int
) -> None:
    response = client.get(f"/v1/users/{user_id}")

    assert response.status_code == 200
    assert response.headers["deprecation"] == "@1796083200"  # 2026-12-01, RFC 9745
    assert response.headers["sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response.headers["link"] == f'</v2/users/{user_id}>; rel="successor-version"'


def test_v2_is_not_deprecated(client: TestClient, user_id: int) -> None:
    response = client.get(f"/v2/users/{user_id}")

    assert response.status_code == 200
    assert "deprecation" not in response.headers
    assert "sunset" not in response.headers


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/*",
        "*/*",
        "text/html, application/json;q=0.5",
        "APPLICATION/JSON; charset=utf-8",
    ],
)
def test_json_is_served_to_clients_that_accept_it(
    client: TestClient, user_id: int, version: str, accept: str
) -> None:
    response = client.get(f"/{version}/users/{user_id}", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(
    "accept", ["application/xml", "text/html", "application/json;q=0", "*/*;q=0.0"]
)
def test_an_accept_without_json_is_406(
    client: TestClient, user_id: int, version: str, accept: str
) -> None:
    response = client.get(f"/{version}/users/{user_id}", headers={"Accept": accept})

    assert response.status_code == 406
    assert response.json() == {"detail": "this API answers application/json only"}


def test_an_unknown_user_is_404_in_both_versions(client: TestClient) -> None:
    for version in ("v1", "v2"):
        response = client.get(f"/{version}/users/2147483647")
        assert response.status_code == 404
