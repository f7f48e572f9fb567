"""How to start, reach and probe RabbitMQ.

pika is imported inside the functions that use it, here and in the other modules of
this package: the catalog imports this module in every run, and a run whose tests
never touch RabbitMQ should not pay for importing the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import Cause, ServiceRefusedError
from ..service_spec import ServiceSpec

if TYPE_CHECKING:
    import pika  # type: ignore[import-untyped, unused-ignore]

    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings


def connection_parameters(
    url: str, *, connect_timeout: float, call_timeout: float
) -> pika.URLParameters:
    """pika parameters under which no wait outlasts its limit.

    connection_attempts=1: fail instead of retrying for a minute. stack_timeout bounds
    the whole connection start-up (socket, AMQP handshake, login): a broker that
    accepts the socket and never answers would otherwise hang it. pika has no
    timeout on a call such as queue_declare; the heartbeat makes a broker that stops
    answering end the blocked call; blocked_connection_timeout does the same for a
    broker blocking publishers (a full disk).
    """
    import pika  # type: ignore[import-untyped, unused-ignore]

    parameters = pika.URLParameters(url)
    parameters.connection_attempts = 1
    parameters.socket_timeout = connect_timeout
    parameters.stack_timeout = connect_timeout
    parameters.blocked_connection_timeout = call_timeout
    # pika checks every heartbeat + 5 s and gives up after one silent check: a
    # blocked call ends within 2 * (heartbeat + 5) s, which is call_timeout.
    parameters.heartbeat = max(1, round(call_timeout / 2 - 5))
    return parameters


def check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("amqp", "amqps"):
        raise ValueError(f"scheme {scheme!r} is not amqp:// or amqps://")


def probe(url: str, seconds: float) -> None:
    import pika  # type: ignore[import-untyped, unused-ignore]
    from pika import exceptions as amqp_errors

    parameters = connection_parameters(
        url, connect_timeout=seconds, call_timeout=seconds
    )
    try:
        connection = pika.BlockingConnection(parameters)
    except amqp_errors.ProbableAuthenticationError as exc:
        raise ServiceRefusedError(Cause.CREDENTIALS, _first_reason(exc)) from exc
    except amqp_errors.ProbableAccessDeniedError as exc:
        # The virtual host named in the URL does not exist (or the user may not use it).
        raise ServiceRefusedError(Cause.MISSING, _first_reason(exc)) from exc
    except amqp_errors.AMQPConnectionError as exc:
        if "refused" in repr(exc).lower():
            raise ServiceRefusedError(
                Cause.NOTHING_LISTENS, _first_reason(exc)
            ) from exc
        raise
    connection.close()


def _first_reason(exc: BaseException) -> str:
    """pika nests the broker's reason in args; the innermost text says most."""
    while exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    return str(exc) or repr(exc)


def is_connection_error(error: BaseException) -> bool:
    from pika import exceptions as amqp_errors
    from pika.adapters.utils.connection_workflow import (  # type: ignore[import-untyped]
        AMQPConnectorStackTimeout,
    )

    return isinstance(
        error,
        (
            amqp_errors.AMQPConnectionError,
            amqp_errors.StreamLostError,
            AMQPConnectorStackTimeout,  # not an AMQPConnectionError
            ConnectionError,
        ),
    )


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    """Delete the queues and exchanges tests of this run named but did not delete."""
    from .names import delete_recorded_names

    delete_recorded_names(endpoint.url, run, settings)


RABBITMQ = ServiceSpec.registered(
    "rabbitmq",
    probe=probe,
    check_url=check_url,
    is_connection_error=is_connection_error,
    release_run=release_run,
    client_modules=("pika",),
    protocol="amqp",
)
