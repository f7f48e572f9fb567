"""How to start, reach and probe Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import redis

from ..answers import IMAGES
from ..service_spec import ServiceSpec
from .embedded import EmbeddedRedis

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings

_TIMEOUT_SECONDS = 3


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"scheme {scheme!r} is not redis://, rediss:// or unix://")


def probe(url: str) -> None:
    client = redis.Redis.from_url(
        url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def container(image: str, labels: dict[str, str]) -> DockerContainer:
    from testcontainers.community.redis import RedisContainer

    return RedisContainer(image, labels=labels)


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    """Delete keys a crashed or interrupted test of this run could not clean up."""
    from .namespace import delete_prefixed, run_prefix

    del settings  # keys are test data: deleted even when services are kept
    client = redis.Redis.from_url(endpoint.url, socket_timeout=_TIMEOUT_SECONDS)
    try:
        delete_prefixed(client, run_prefix(run))
    finally:
        client.close()


REDIS = ServiceSpec(
    name="redis",
    url_env="IT_REDIS_URL",
    image_env="IT_REDIS_IMAGE",
    default_image=IMAGES["redis"],
    port=6379,
    url_example="redis://127.0.0.1:6379/0",
    url_for=lambda host, port: f"redis://{host}:{port}/0",
    probe=probe,
    container=container,
    check_url=check_url,
    release_run=release_run,
    embedded=EmbeddedRedis(),
)
