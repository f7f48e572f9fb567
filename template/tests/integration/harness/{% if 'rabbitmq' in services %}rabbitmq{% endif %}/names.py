"""Exchange and queue names unique per test, so xdist workers never share a queue.

AMQP has no way to list queues, so nothing can be swept by prefix afterwards: every
name handed out is remembered and deleted after the test, and queues also carry an
`x-expires` argument, so the broker itself drops any that a crashed worker left.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from ..run_state import RunState

# An idle test queue disappears from the broker on its own after this long.
QUEUE_EXPIRES_MS = 10 * 60 * 1000


@dataclass
class AmqpNames:
    """Hands out names under one per-test prefix and remembers them for clean-up."""

    prefix: str
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)

    @classmethod
    def for_test(cls, run: RunState) -> AmqpNames:
        return cls(f"it.{run.run_id}.{run.worker}.{uuid.uuid4().hex[:8]}")

    def queue(self, name: str) -> str:
        full = f"{self.prefix}.{name}"
        self.queues.append(full)
        return full

    def exchange(self, name: str) -> str:
        full = f"{self.prefix}.{name}"
        self.exchanges.append(full)
        return full

    @staticmethod
    def queue_arguments(**extra: Any) -> dict[str, Any]:
        """Arguments for declaring a test queue: `x-expires` plus whatever you add."""
        return {"x-expires": QUEUE_EXPIRES_MS, **extra}
