"""How to start, reach and probe RabbitMQ."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pika  # type: ignore[import-untyped]

from ..answers import IMAGES
from ..service_spec import ServiceSpec

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

_TIMEOUT_SECONDS = 3


def connection_parameters(url: str) -> pika.URLParameters:
    """pika parameters that fail fast instead of retrying for a minute."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = _TIMEOUT_SECONDS
    parameters.blocked_connection_timeout = _TIMEOUT_SECONDS * 5
    return parameters


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("amqp", "amqps"):
        raise ValueError(f"scheme {scheme!r} is not amqp:// or amqps://")


def probe(url: str) -> None:
    connection = pika.BlockingConnection(connection_parameters(url))
    connection.close()


def container(image: str, labels: dict[str, str]) -> DockerContainer:
    from testcontainers.community.rabbitmq import RabbitMqContainer

    return RabbitMqContainer(image, labels=labels).with_tmpfs_mount("/var/lib/rabbitmq")


RABBITMQ = ServiceSpec(
    name="rabbitmq",
    url_env="IT_AMQP_URL",
    image_env="IT_RABBITMQ_IMAGE",
    default_image=IMAGES["rabbitmq"],
    port=5672,
    url_example="amqp://guest:guest@127.0.0.1:5672/%2F",
    url_for=lambda host, port: f"amqp://guest:guest@{host}:{port}/%2F",
    probe=probe,
    container=container,
    check_url=check_url,
)
