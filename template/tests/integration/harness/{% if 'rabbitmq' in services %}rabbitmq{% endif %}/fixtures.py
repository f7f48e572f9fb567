"""RabbitMQ fixtures: a connection per test, names unique per test, deleted after it.

rabbitmq_service   the broker of this run (container, compose or IT_AMQP_URL)
amqp_connection    a pika BlockingConnection for this test
amqp_channel       a channel on it
amqp_names         unique exchange/queue names, deleted after the test
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pika  # type: ignore[import-untyped]
import pytest
from pika.adapters.blocking_connection import (  # type: ignore[import-untyped]
    BlockingChannel,
)

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from .names import AmqpNames
from .service import connection_parameters


@pytest.fixture(scope="session")
def rabbitmq_service(request: pytest.FixtureRequest) -> ServiceEndpoint:
    return integration_plugin(request.config).endpoint("rabbitmq")


@pytest.fixture
def amqp_connection(
    rabbitmq_service: ServiceEndpoint,
) -> Iterator[pika.BlockingConnection]:
    # One per test: a BlockingConnection only serves heartbeats while it is used,
    # so one kept across a slow suite would be dropped by the broker.
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_service.url))
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def amqp_channel(amqp_connection: pika.BlockingConnection) -> BlockingChannel:
    return amqp_connection.channel()


@pytest.fixture
def amqp_names(
    rabbitmq_service: ServiceEndpoint, request: pytest.FixtureRequest
) -> Iterator[AmqpNames]:
    names = AmqpNames.for_test(integration_plugin(request.config).run)
    yield names
    delete_names(rabbitmq_service.url, names)


def delete_names(url: str, names: AmqpNames) -> None:
    """On a connection of its own: an error may have closed the test's channel."""
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        for queue in names.queues:
            with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                connection.channel().queue_delete(queue)
        for exchange in names.exchanges:
            with contextlib.suppress(pika.exceptions.ChannelClosedByBroker):
                connection.channel().exchange_delete(exchange)
    finally:
        connection.close()
