"""Waiting for messages: always until a deadline, never a fixed sleep.

When the deadline passes, the failure lists what did arrive: "expected 2, got 1:
..." says far more than a bare timeout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pika.adapters.blocking_connection import (  # type: ignore[import-untyped]
        BlockingChannel,
    )

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Received:
    """A message taken off a queue (already acknowledged)."""

    body: bytes
    headers: dict[str, Any]
    redelivered: bool
    message_id: str | None


def take_messages(
    channel: BlockingChannel, queue: str, *, count: int, within: float = 5.0
) -> list[Received]:
    """Take `count` messages off `queue`, acking them; fail after `within` seconds."""
    deadline = time.monotonic() + within
    received: list[Received] = []
    for method, properties, body in channel.consume(
        queue, inactivity_timeout=_POLL_SECONDS
    ):
        if method is not None:
            channel.basic_ack(method.delivery_tag)
            received.append(
                Received(
                    body=body,
                    headers=dict(properties.headers or {}),
                    redelivered=bool(method.redelivered),
                    message_id=properties.message_id,
                )
            )
        if len(received) >= count or time.monotonic() >= deadline:
            break
    channel.cancel()
    if len(received) < count:
        arrived = [message.body for message in received]
        pytest.fail(
            f"expected {count} message(s) on {queue} within {within} s, "
            f"got {len(received)}: {arrived!r}",
            pytrace=False,
        )
    return received


def assert_queue_empty(channel: BlockingChannel, queue: str) -> None:
    """Nothing is waiting on `queue` (a passive declare reads the count)."""
    waiting = channel.queue_declare(queue, passive=True).method.message_count
    assert waiting == 0, f"{waiting} message(s) still waiting on {queue}"
