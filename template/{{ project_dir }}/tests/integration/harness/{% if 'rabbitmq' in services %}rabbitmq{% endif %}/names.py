"""Exchange and queue names unique per test, so xdist workers never share a queue.

AMQP has no way to list queues or exchanges, so nothing can be swept by prefix: every
name handed out is recorded in the run's state and deleted after the test; what a
crashed worker or a killed run left is deleted by name at the end of the run, or by
the next run (sweep.py). Queues also carry `x-expires`, so the broker itself drops
any that are never swept.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..run_state import RunState
from .service import connection_parameters

if TYPE_CHECKING:
    from ..settings import RunSettings

# An idle test queue disappears from the broker on its own after this long.
QUEUE_EXPIRES_MS = 10 * 60 * 1000
_RECORD = "amqp-names"


@dataclass
class AmqpNames:
    """Hands out names under one per-test prefix and remembers them for clean-up."""

    prefix: str
    run: RunState
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)

    @classmethod
    def for_test(cls, run: RunState) -> AmqpNames:
        return cls(f"it.{run.run_id}.{run.worker}.{uuid.uuid4().hex[:8]}", run)

    def queue(self, name: str) -> str:
        full = f"{self.prefix}.{name}"
        self.queues.append(full)
        self.run.remember(_RECORD, f"queue {full}")
        return full

    def exchange(self, name: str) -> str:
        full = f"{self.prefix}.{name}"
        self.exchanges.append(full)
        self.run.remember(_RECORD, f"exchange {full}")
        return full

    @staticmethod
    def queue_arguments(**extra: Any) -> dict[str, Any]:
        """Arguments for declaring a test queue: `x-expires` plus whatever you add."""
        return {"x-expires": QUEUE_EXPIRES_MS, **extra}


def delete_names(
    url: str, queues: list[str], exchanges: list[str], settings: RunSettings
) -> None:
    """On a connection of its own: an error may have closed the test's channel."""
    import pika  # type: ignore[import-untyped, unused-ignore]

    parameters = connection_parameters(
        url,
        connect_timeout=settings.connect_timeout,
        call_timeout=settings.call_timeout,
    )
    connection = pika.BlockingConnection(parameters)
    try:
        for kind, names in (("queue", queues), ("exchange", exchanges)):
            for name in names:
                # A name already gone closes the channel: a fresh channel per name.
                with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                    channel = connection.channel()
                    if kind == "queue":
                        channel.queue_delete(name)
                    else:
                        channel.exchange_delete(name)
    finally:
        connection.close()


def delete_recorded_names(url: str, run: RunState, settings: RunSettings) -> None:
    """Every queue and exchange the run recorded (its tests delete their own first)."""
    recorded = [line.split(" ", 1) for line in dict.fromkeys(run.remembered(_RECORD))]
    queues = [name for kind, name in recorded if kind == "queue"]
    exchanges = [name for kind, name in recorded if kind == "exchange"]
    if queues or exchanges:
        delete_names(url, queues, exchanges, settings)
