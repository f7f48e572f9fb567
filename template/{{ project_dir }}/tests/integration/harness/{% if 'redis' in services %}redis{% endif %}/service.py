"""How to start, reach and probe Redis.

redis-py is imported inside the functions that use it, here and in fixtures.py: the
catalog imports this module in every run, and a run whose tests never touch Redis
should not pay 0.1-0.2 s for importing the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import Cause, ServiceRefusedError
from ..service_spec import ServiceSpec
from .embedded import EmbeddedRedis

if TYPE_CHECKING:
    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"scheme {scheme!r} is not redis://, rediss:// or unix://")


def probe(url: str, seconds: float) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise ServiceRefusedError(Cause.CREDENTIALS, str(exc)) from exc
    except redis.ResponseError as exc:
        # SELECT of a database index the server does not have, or AUTH refused.
        cause = Cause.MISSING if "DB index" in str(exc) else Cause.CREDENTIALS
        raise ServiceRefusedError(cause, str(exc)) from exc
    except redis.ConnectionError as exc:
        if "refused" in str(exc).lower():
            raise ServiceRefusedError(Cause.NOTHING_LISTENS, str(exc)) from exc
        raise
    finally:
        client.close()


def is_connection_error(error: BaseException) -> bool:
    import redis

    return isinstance(error, (redis.ConnectionError, redis.TimeoutError))


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    """Delete keys a crashed or interrupted test of this run could not clean up."""
    import redis

    from .namespace import delete_prefixed, run_prefix

    # Keys are test data: deleted even when services are kept.
    client = redis.Redis.from_url(
        endpoint.url,
        socket_timeout=settings.call_timeout,
        socket_connect_timeout=settings.connect_timeout,
    )
    try:
        delete_prefixed(client, run_prefix(run))
    finally:
        client.close()


REDIS = ServiceSpec.registered(
    "redis",
    probe=probe,
    check_url=check_url,
    is_connection_error=is_connection_error,
    release_run=release_run,
    embedded=EmbeddedRedis(),
    client_modules=("redis",),
    protocol="redis",
)
