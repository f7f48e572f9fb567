"""Per-test key namespaces: how Redis tests stay apart on a shared server.

Never FLUSHALL or FLUSHDB: the server may be a CI service or a developer's own Redis,
and other xdist workers use it at the same time. Every test gets a prefix naming the
run, the worker and the test; its keys are deleted after it, and whatever a crashed
worker left is deleted by prefix at the end of the run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..run_state import RunState

if TYPE_CHECKING:
    import redis

RUN_PREFIX = "it:"
_BATCH = 500


@dataclass(frozen=True)
class RedisNamespace:
    """Prefix every key of a test with `prefix`; `key("a", "b")` builds one."""

    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    @classmethod
    def for_test(cls, run: RunState) -> RedisNamespace:
        return cls(f"{RUN_PREFIX}{run.run_id}:{run.worker}:{uuid.uuid4().hex[:8]}:")


def run_prefix(run: RunState) -> str:
    return f"{RUN_PREFIX}{run.run_id}:"


def delete_prefixed(client: redis.Redis, prefix: str) -> int:
    """Delete every key starting with `prefix` (SCAN + UNLINK, in batches)."""
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=f"{prefix}*", count=_BATCH):
        batch.append(key)
        if len(batch) == _BATCH:
            deleted += _unlink(client, batch)
            batch.clear()
    if batch:
        deleted += _unlink(client, batch)
    return deleted


def _unlink(client: redis.Redis, keys: list[str]) -> int:
    # redis-py types a reply as "awaitable or value", for sync and async clients alike.
    removed: Any = client.unlink(*keys)
    return int(removed)
