"""Redis fixtures: one connection pool per worker, one key namespace per test.

redis_service     the server of this run (container, compose or IT_REDIS_URL)
redis_pool        this worker's connection pool (str responses)
redis_namespace   the test's key prefix; its keys are deleted after the test
redis_client      a client on the pool
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import pytest

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from .namespace import RedisNamespace, delete_prefixed

if TYPE_CHECKING:
    # Imported where used: a run that never touches Redis skips it (see service.py).
    import redis

__all__ = [
    "redis_client",
    "redis_namespace",
    "redis_pool",
    "redis_service",
]


@pytest.fixture(scope="session")
def redis_service(pytestconfig: pytest.Config) -> ServiceEndpoint:
    return integration_plugin(pytestconfig).endpoint("redis")


@pytest.fixture(scope="session")
def redis_pool(
    redis_service: ServiceEndpoint, pytestconfig: pytest.Config
) -> Iterator[redis.ConnectionPool]:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    settings = integration_plugin(pytestconfig).settings
    pool = redis.ConnectionPool.from_url(
        redis_service.url,
        decode_responses=True,
        # A server that stops answering fails the command, never hangs the test.
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.call_timeout,
        # redis-py 6+ retries a timed-out command ten times by default: fail once.
        retry=Retry(NoBackoff(), 0),
    )
    yield pool
    pool.disconnect()


@pytest.fixture
def redis_client(
    redis_pool: redis.ConnectionPool, pytestconfig: pytest.Config
) -> Iterator[redis.Redis]:
    import redis

    integration_plugin(pytestconfig).require("redis")
    client = redis.Redis(connection_pool=redis_pool)
    yield client
    client.close()


@pytest.fixture
def redis_namespace(
    redis_client: redis.Redis, pytestconfig: pytest.Config
) -> Iterator[RedisNamespace]:
    plugin = integration_plugin(pytestconfig)
    namespace = RedisNamespace.for_test(plugin.run)
    yield namespace
    plugin.clean_up("redis", partial(delete_prefixed, redis_client, namespace.prefix))
