"""The other side of webhooks.py: a sender that delivers at least once, with retries.

It is what the payment provider runs, written here so that the receiver's tests
deliver over a real socket the way a provider would: every attempt re-signed with the
current time and the same `webhook-id`, retried (tenacity) on 5xx and on a connection
that failed, never on a 4xx, which says that the same delivery will never pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from .webhooks import sign

Sleep = Callable[[float], None]


class DeliveryFailedError(Exception):
    """The receiver refused the delivery (4xx), or kept failing past the last retry."""

    def __init__(self, status_code: int | None, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code


class _RetryableError(Exception):
    """A 5xx or a failed connection: the same delivery may pass later."""


@dataclass
class WebhookSender:
    url: str
    secret: str
    attempts: int = 4
    sleep: Sleep = time.sleep
    clock: Callable[[], float] = time.time
    # One status code (or None for a failed connection) per attempt, in order.
    outcomes: list[int | None] = field(default_factory=list)

    def deliver(self, webhook_id: str, body: bytes) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.1, max=5),
            retry=retry_if_exception_type(_RetryableError),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, webhook_id, body)
        except _RetryableError as exc:
            raise DeliveryFailedError(self.outcomes[-1], str(exc)) from exc

    def _attempt(self, webhook_id: str, body: bytes) -> httpx.Response:
        timestamp = int(self.clock())
        headers = {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.secret, webhook_id, timestamp, body),
            "content-type": "application/json",
        }
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=5)
        except httpx.TransportError as exc:
            self.outcomes.append(None)
            raise _RetryableError(repr(exc)) from exc
        self.outcomes.append(response.status_code)
        if response.is_server_error:
            raise _RetryableError(response.text)
        if not response.is_success:
            raise DeliveryFailedError(response.status_code, response.text)
        return response
