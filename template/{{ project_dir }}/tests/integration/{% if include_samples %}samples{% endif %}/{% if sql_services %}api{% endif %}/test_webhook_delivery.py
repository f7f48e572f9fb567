"""Webhooks over a real socket: the app served by uvicorn on a free port, the sender
delivering with retries (webhook_sender.py), the test's real database behind it.

What only a real server shows: the signature holds over the bytes that went over the
wire, a 503 is retried and then applied once, a 4xx is not retried, and nothing
listening is retried and then reported.

The server answers on a thread of its own, with connections of its own: the tests are
marked `delete` (their rows are deleted afterwards) instead of `rollback`, whose one
connection belongs to the test.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..models import SampleOrder, SampleUser, SampleWebhookDelivery
from .app import get_session
from .webhook_sender import DeliveryFailedError, WebhookSender
from .webhooks import REFUNDED

pytestmark = pytest.mark.isolation("delete")


@pytest.fixture
def server_url(app: FastAPI) -> Iterator[str]:
    """The app on 127.0.0.1 at a port the OS picked, until the test ends."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    # Off the main thread uvicorn installs no signal handlers: Ctrl-C stays pytest's.
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()


@pytest.fixture
def order(db_session: Session) -> SampleOrder:
    placed = SampleOrder(user=SampleUser(email="payer@example.test"), total_cents=900)
    db_session.add(placed)
    db_session.commit()
    return placed


@pytest.fixture
def waits() -> list[float]:
    """The sender's pauses between attempts, recorded instead of slept."""
    return []


@pytest.fixture
def sender(server_url: str, webhook_secret: str, waits: list[float]) -> WebhookSender:
    return WebhookSender(
        f"{server_url}/webhooks/payments", webhook_secret, sleep=waits.append
    )


def refund_of(order: SampleOrder, cents: int) -> bytes:
    event = {"type": REFUNDED, "data": {"order_id": order.id, "amount_cents": cents}}
    return json.dumps(event).encode()


def total_of(order: SampleOrder, session: Session) -> int:
    # Ends the session's transaction: the server's commits were made on connections
    # of its own, and MySQL's REPEATABLE READ would show the open one's snapshot.
    session.commit()
    return session.get_one(SampleOrder, order.id).total_cents


@pytest.fixture
def flaky_database(app: FastAPI, db_sessionmaker: sessionmaker[Session]) -> None:
    """The database is down for the app's first request, back for the next ones."""
    failures = [OperationalError("SELECT 1", None, ConnectionResetError("reset"))]

    def flaky() -> Iterator[Session]:
        if failures:
            raise failures.pop()
        with db_sessionmaker() as session:
            yield session

    app.dependency_overrides[get_session] = flaky


@pytest.mark.usefixtures("flaky_database")
def test_a_503_is_retried_and_the_refund_applied_once(
    sender: WebhookSender, order: SampleOrder, db_session: Session, waits: list[float]
) -> None:
    # Given a receiver whose database fails its first request (flaky_database)
    # When the sender delivers a refund, and later delivers it again (at least once)
    sender.deliver("msg_wire_1", refund_of(order, 400))
    sender.deliver("msg_wire_1", refund_of(order, 400))

    # Then the 503 was retried after a pause, and the refund counted once
    assert sender.outcomes == [503, 200, 200]
    assert len(waits) == 1
    assert total_of(order, db_session) == 500
    assert db_session.get(SampleWebhookDelivery, "msg_wire_1") is not None


def test_a_refused_signature_is_not_retried(
    server_url: str, order: SampleOrder, db_session: Session
) -> None:
    # Given a sender with a secret the receiver does not know
    sender = WebhookSender(f"{server_url}/webhooks/payments", "stale-secret")

    # When it delivers; Then the 401 ends it at once: no retry can fix a secret
    with pytest.raises(DeliveryFailedError) as refused:
        sender.deliver("msg_wire_2", refund_of(order, 400))
    assert refused.value.status_code == 401
    assert sender.outcomes == [401]
    assert total_of(order, db_session) == 900


def test_nothing_listening_is_retried_then_reported(waits: list[float]) -> None:
    # A port that was free a moment ago: nothing listens there now.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = WebhookSender(
        f"http://127.0.0.1:{port}/webhooks/payments", "secret", sleep=waits.append
    )

    with pytest.raises(DeliveryFailedError) as failed:
        sender.deliver("msg_wire_3", b"{}")

    assert failed.value.status_code is None
    assert sender.outcomes == [None] * sender.attempts
    assert len(waits) == sender.attempts - 1
