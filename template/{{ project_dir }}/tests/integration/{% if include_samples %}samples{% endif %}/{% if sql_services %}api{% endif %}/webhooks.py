"""A webhook receiver: a payment provider tells the app that an order was refunded.

Signed the Standard Webhooks way (standardwebhooks.com, what Svix and others send):
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, space-separated when the sender
rotates secrets). The signature covers the raw body as sent: it is checked before the
JSON is parsed, since parsing and dumping again need not give the same bytes.

What the status code tells the sender, who retries until it sees a 2xx:
- 200: processed, or processed before (same `webhook-id`), or an event type this app
  ignores. Retrying would change nothing.
- 401: the signature is wrong or the timestamp is outside the tolerance window (a
  replay of a captured delivery). The same bytes will never pass: no retry helps.
- 422: signed, but not an event this app can apply (malformed, an unknown order, a
  refund larger than the order). Also permanent.
- 503 (with `Retry-After`): the database is down. This one can succeed later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    EVENT_TYPE_MAX_LENGTH,
    WEBHOOK_ID_MAX_LENGTH,
    SampleOrder,
    SampleWebhookDelivery,
)
from .app import MAX_INT, Problem, Responses, SessionDep

# How far a delivery's timestamp may be from our clock: the window in which a captured
# delivery could be replayed (and then is caught by its id), and the clock skew allowed.
TOLERANCE_SECONDS = 5 * 60
REFUNDED = "order.refunded"


def now() -> float:
    """The receiver's clock, a dependency so that tests can set it."""
    return time.time()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one delivery, as the sender computes it."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class RefundData(BaseModel):
    order_id: int = Field(ge=1, le=MAX_INT)
    amount_cents: int = Field(ge=1, le=MAX_INT)


class WebhookEvent(BaseModel):
    type: str = Field(max_length=EVENT_TYPE_MAX_LENGTH)
    data: dict[str, object]


class WebhookResult(BaseModel):
    status: Literal["processed", "duplicate", "ignored"]


def _refuse(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail)


def _check_timestamp(timestamp: str, clock: float) -> int:
    if not timestamp.isascii() or not timestamp.isdigit():
        raise _refuse("malformed webhook-timestamp")
    sent = int(timestamp)
    if abs(clock - sent) > TOLERANCE_SECONDS:
        raise _refuse("webhook-timestamp outside the tolerance window")
    return sent


def _check_signature(expected: str, signatures: str) -> None:
    # compare_digest takes as long whatever the first differing byte: no timing oracle.
    given = (candidate.encode() for candidate in signatures.split(" "))
    if not any(hmac.compare_digest(expected.encode(), sig) for sig in given):
        raise _refuse("invalid webhook-signature")


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    body: bytes


# Optional in the signature, so that a missing header is our 401 rather than
# FastAPI's 422: the sender learns that the delivery is not authenticated.
OptionalHeader = Annotated[str | None, Header()]


async def verified_delivery(
    request: Request,
    clock: Annotated[float, Depends(now)],
    webhook_id: OptionalHeader = None,
    webhook_timestamp: OptionalHeader = None,
    webhook_signature: OptionalHeader = None,
) -> Delivery:
    """The delivery, once its headers prove who sent it and that it is fresh.

    Async so that it can read the raw bytes; the handler itself stays sync.
    """
    if webhook_id is None or webhook_timestamp is None or webhook_signature is None:
        raise _refuse("webhook-id, webhook-timestamp and webhook-signature required")
    sent = _check_timestamp(webhook_timestamp, clock)
    body = await request.body()
    secret: str = request.app.state.webhook_secret
    _check_signature(sign(secret, webhook_id, sent, body), webhook_signature)
    if len(webhook_id) > WEBHOOK_ID_MAX_LENGTH:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "webhook-id too long"
        )
    return Delivery(webhook_id, body)


Verified = Annotated[Delivery, Depends(verified_delivery)]
UNPROCESSABLE: Responses = {
    401: {"model": Problem, "description": "Bad signature or stale timestamp"},
    422: {"model": Problem, "description": "Signed, but not an event we can apply"},
    503: {"model": Problem, "description": "Database down: retry later"},
}

router = APIRouter()


@router.post(
    "/webhooks/payments", response_model=WebhookResult, responses=UNPROCESSABLE
)
def receive_payment_event(delivery: Verified, session: SessionDep) -> WebhookResult:
    event, webhook_id = _parse(delivery.body), delivery.webhook_id
    if event.type != REFUNDED:
        # New event types appear on the sender's side first: accept and ignore them,
        # or the sender retries them for days.
        return WebhookResult(status="ignored")
    if session.get(SampleWebhookDelivery, webhook_id) is not None:
        return WebhookResult(status="duplicate")
    _refund(session, _refund_data(event))
    session.add(SampleWebhookDelivery(id=webhook_id, event_type=event.type))
    try:
        session.commit()
    except IntegrityError:
        # The same id, delivered twice at once: the other request committed first,
        # and its effect is the one that counts.
        session.rollback()
        return WebhookResult(status="duplicate")
    return WebhookResult(status="processed")


def _parse(body: bytes) -> WebhookEvent:
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "not a webhook event"
        ) from exc


def _refund_data(event: WebhookEvent) -> RefundData:
    try:
        return RefundData.model_validate(event.data)
    except ValidationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "malformed refund"
        ) from exc


def _refund(session: Session, refund: RefundData) -> None:
    """The effect that must happen once: a second run would refund twice."""
    order = session.get(SampleOrder, refund.order_id)
    if order is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown order")
    if refund.amount_cents > order.total_cents:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "refund exceeds the order's total"
        )
    order.total_cents -= refund.amount_cents
