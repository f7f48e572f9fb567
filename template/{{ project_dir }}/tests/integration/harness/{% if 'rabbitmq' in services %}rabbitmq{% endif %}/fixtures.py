"""RabbitMQ fixtures: a connection per test, names unique per test, deleted after it.

rabbitmq_service   the broker of this run (container, compose or IT_AMQP_URL)
amqp_connection    a pika BlockingConnection for this test
amqp_channel       a channel on it
amqp_names         unique exchange/queue names, deleted after the test
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

import pytest

from ..endpoints import ServiceEndpoint
from ..plugin import integration_plugin
from .names import AmqpNames, delete_names
from .service import connection_parameters

if TYPE_CHECKING:
    # Imported where used: a run that never touches RabbitMQ skips it (service.py).
    import pika  # type: ignore[import-untyped, unused-ignore]
    from pika.adapters.blocking_connection import (  # type: ignore[import-untyped]
        BlockingChannel,
    )

__all__ = [
    "amqp_channel",
    "amqp_connection",
    "amqp_names",
    "rabbitmq_service",
]


@pytest.fixture(scope="session")
def rabbitmq_service(pytestconfig: pytest.Config) -> ServiceEndpoint:
    return integration_plugin(pytestconfig).endpoint("rabbitmq")


@pytest.fixture
def amqp_connection(
    rabbitmq_service: ServiceEndpoint, pytestconfig: pytest.Config
) -> Iterator[pika.BlockingConnection]:
    # One per test: a BlockingConnection only serves heartbeats while it is used,
    # so one kept across a slow suite would be dropped by the broker.
    import pika  # type: ignore[import-untyped, unused-ignore]

    plugin = integration_plugin(pytestconfig)
    parameters = connection_parameters(
        rabbitmq_service.url,
        connect_timeout=plugin.settings.connect_timeout,
        call_timeout=plugin.settings.call_timeout,
    )
    with plugin.service_calls("rabbitmq"):
        connection = pika.BlockingConnection(parameters)
    yield connection
    if connection.is_open:
        # Closing waits for the broker's reply: skipped when it is gone.
        plugin.clean_up("rabbitmq", connection.close)


@pytest.fixture
def amqp_channel(amqp_connection: pika.BlockingConnection) -> BlockingChannel:
    return amqp_connection.channel()


@pytest.fixture
def amqp_names(
    rabbitmq_service: ServiceEndpoint, pytestconfig: pytest.Config
) -> Iterator[AmqpNames]:
    plugin = integration_plugin(pytestconfig)
    names = AmqpNames.for_test(plugin.run)
    yield names
    plugin.clean_up(
        "rabbitmq",
        partial(
            delete_names,
            rabbitmq_service.url,
            names.queues,
            names.exchanges,
            plugin.settings,
        ),
    )
