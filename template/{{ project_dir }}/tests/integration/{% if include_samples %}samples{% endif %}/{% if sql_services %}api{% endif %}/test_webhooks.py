"""The webhook receiver in process (FastAPI's TestClient), on the test's real database.

Each test signs its deliveries as the sender would (`sign()` with the shared secret)
and pins one rule: what is applied, what is applied once, and which status code tells
the sender whether to try again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..models import SampleOrder, SampleUser, SampleWebhookDelivery
from .app import get_session
from .webhooks import REFUNDED, TOLERANCE_SECONDS, now, sign

SENT_AT = 1_800_000_000  # the sender's clock at signing, in Unix seconds
# TestClient's responses: httpx2's, or httpx's where Python has no httpx2.
Deliver = Callable[..., Any]


@pytest.fixture
def order(db_session: Session) -> SampleOrder:
    """An order of 50.00 that refunds will reduce."""
    user = SampleUser(email="payer@example.test")
    placed = SampleOrder(user=user, total_cents=5_000)
    db_session.add(placed)
    db_session.commit()
    return placed


@pytest.fixture
def clock(app: FastAPI) -> Iterator[list[float]]:
    """The receiver's clock, settable: [0] is what `now()` returns."""
    current = [float(SENT_AT)]
    app.dependency_overrides[now] = lambda: current[0]
    yield current
    del app.dependency_overrides[now]


@pytest.fixture
def deliver(client: TestClient, webhook_secret: str, clock: list[float]) -> Deliver:
    """POST one delivery, signed (by default) like the real sender would sign it."""
    del clock  # the receiver's clock is set; deliveries are signed at SENT_AT

    def post(
        webhook_id: str,
        event: dict[str, object],
        *,
        secret: str = webhook_secret,
        sent_at: int = SENT_AT,
        signature: str | None = None,
    ) -> Any:
        body = json.dumps(event).encode()
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(sent_at),
            "webhook-signature": signature or sign(secret, webhook_id, sent_at, body),
        }
        return client.post("/webhooks/payments", content=body, headers=headers)

    return post


def refund(order: SampleOrder, cents: int) -> dict[str, object]:
    return {"type": REFUNDED, "data": {"order_id": order.id, "amount_cents": cents}}


def total_of(order: SampleOrder, session: Session) -> int:
    session.expire_all()  # read what the app's session committed, not a cached row
    return session.get_one(SampleOrder, order.id).total_cents


def deliveries(session: Session) -> int:
    count = select(func.count()).select_from(SampleWebhookDelivery)
    return session.scalar(count) or 0


def test_a_signed_refund_is_applied(
    deliver: Deliver, order: SampleOrder, db_session: Session
) -> None:
    response = deliver("msg_1", refund(order, 1_500))

    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    assert total_of(order, db_session) == 3_500
    assert db_session.get(SampleWebhookDelivery, "msg_1") is not None


def test_a_redelivered_event_is_applied_once(
    deliver: Deliver, order: SampleOrder, db_session: Session
) -> None:
    # Given a refund that was processed, but whose 200 the sender never received
    assert deliver("msg_2", refund(order, 1_000)).status_code == 200

    # When the sender delivers it again (same webhook-id)
    again = deliver("msg_2", refund(order, 1_000))

    # Then it is told all is well, so it stops; and the order is refunded once
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert total_of(order, db_session) == 4_000
    assert deliveries(db_session) == 1


def test_a_wrong_signature_is_401_and_changes_nothing(
    deliver: Deliver, order: SampleOrder, db_session: Session
) -> None:
    wrong_secret = deliver("msg_3", refund(order, 100), secret="guessed")  # noqa: S106
    # A signature of another body: the amount was changed on the way
    tampered = deliver(
        "msg_3",
        refund(order, 5_000),
        signature=sign("test-webhook-secret", "msg_3", SENT_AT, b"{}"),
    )

    for response in (wrong_secret, tampered):
        assert response.status_code == 401
        assert response.json() == {"detail": "invalid webhook-signature"}
    assert total_of(order, db_session) == 5_000
    assert deliveries(db_session) == 0


def test_one_valid_signature_among_several_is_enough(
    deliver: Deliver, order: SampleOrder, webhook_secret: str
) -> None:
    # While the sender rotates its secret it signs with the old and the new one
    body = json.dumps(refund(order, 100)).encode()
    old = sign("old-secret", "msg_4", SENT_AT, body)
    new = sign(webhook_secret, "msg_4", SENT_AT, body)

    response = deliver("msg_4", refund(order, 100), signature=f"{old} {new}")

    assert response.status_code == 200


def test_a_replayed_delivery_outside_the_window_is_401(
    deliver: Deliver, clock: list[float], order: SampleOrder, db_session: Session
) -> None:
    # Given a delivery someone captured, correctly signed 10 minutes ago
    clock[0] = SENT_AT + 600

    # When it is replayed now (a new id, so the dedup table would not stop it)
    replayed = deliver("msg_5", refund(order, 700))

    # Then the timestamp gives it away
    assert replayed.status_code == 401
    assert replayed.json() == {
        "detail": "webhook-timestamp outside the tolerance window"
    }
    assert total_of(order, db_session) == 5_000


@pytest.mark.parametrize(
    ("skew", "accepted"),
    [
        (TOLERANCE_SECONDS, True),
        (TOLERANCE_SECONDS + 1, False),
        (-TOLERANCE_SECONDS, True),
        (-TOLERANCE_SECONDS - 1, False),
    ],
)
def test_the_window_is_the_tolerance_either_side_of_our_clock(
    deliver: Deliver, clock: list[float], order: SampleOrder, skew: int, accepted: bool
) -> None:
    clock[0] = SENT_AT + skew

    response = deliver(f"msg_skew_{skew}", refund(order, 1))

    assert response.status_code == (200 if accepted else 401)


def test_an_unknown_event_type_is_accepted_and_ignored(
    deliver: Deliver, db_session: Session
) -> None:
    response = deliver("msg_6", {"type": "customer.created", "data": {}})

    # Then the sender stops sending it, and nothing was recorded
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert deliveries(db_session) == 0


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({"type": REFUNDED}, "not a webhook event"),
        ({"type": REFUNDED, "data": {"order_id": "x"}}, "malformed refund"),
        (
            {"type": REFUNDED, "data": {"order_id": 2**31 - 1, "amount_cents": 1}},
            "unknown order",
        ),
    ],
)
def test_signed_but_unusable_events_are_422(
    deliver: Deliver, db_session: Session, event: dict[str, object], detail: str
) -> None:
    response = deliver("msg_7", event)

    # 4xx: the sender must not retry what can never be applied
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert deliveries(db_session) == 0


def test_a_refund_larger_than_the_order_is_422_and_changes_nothing(
    deliver: Deliver, order: SampleOrder, db_session: Session
) -> None:
    response = deliver("msg_8", refund(order, 5_001))

    assert response.status_code == 422
    assert total_of(order, db_session) == 5_000
    assert deliveries(db_session) == 0


def test_a_database_outage_is_503_so_that_the_sender_retries(
    app: FastAPI, deliver: Deliver, order: SampleOrder
) -> None:
    # Given a database that cannot be reached
    def unreachable() -> Iterator[Session]:
        raise OperationalError("SELECT 1", None, ConnectionRefusedError("refused"))
        yield  # pragma: no cover - a generator, like the dependency it replaces

    app.dependency_overrides[get_session] = unreachable

    response = deliver("msg_9", refund(order, 100))

    # Then the sender is told to come back, not that the event is wrong
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


def test_a_delivery_without_its_headers_is_401(client: TestClient) -> None:
    response = client.post("/webhooks/payments", content=b"{}")

    # 401, not a 422: the sender must fix its signing, not its payload
    assert response.status_code == 401
