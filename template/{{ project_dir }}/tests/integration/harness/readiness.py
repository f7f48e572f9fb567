"""Waiting for a service to answer its own protocol, always against a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import (
    Cause,
    ServiceExitedError,
    ServiceNotReadyError,
    ServiceRefusedError,
)

_FIRST_INTERVAL = 0.05
_MAX_INTERVAL = 1.0
# A service the suite has just started answers within seconds, and every cold start
# waits for the poll that sees it: at most this long after it could answer. An early
# attempt costs one refused connection.
_JUST_STARTED_MAX_INTERVAL = 0.1
# No single attempt may take longer than the connect timeout, nor than the time left:
# a service that accepts connections and never answers (a frozen process) ends the
# wait at its deadline, not one attempt later. Less than this left after a failed
# attempt is too little for another (clients round their timeouts up to whole
# seconds): the wait ends then.
_MIN_ATTEMPT_SECONDS = 1.0
_DEFAULT_ATTEMPT_SECONDS = 10.0

Probe = Callable[[float], None]
# Within `seconds`: what the server's port speaks when that is not the service's own
# protocol ("Redis, not AMQP (RabbitMQ)"), else "".
ProtocolCheck = Callable[[float], str]
# Seconds the protocol check may take, once, after the first failed attempt.
_PROTOCOL_CHECK_SECONDS = 0.9
# Less time than this left for it: not checked (no answer could come back).
_MIN_CHECK_SECONDS = 0.05
# Why the service can never answer now (its container exited), or "" while it still
# may.
ExitCheck = Callable[[], str]


def wait_until_ready(  # noqa: PLR0913 - keyword-only knobs of one loop
    probe: Probe,
    *,
    what: str,
    timeout: float,
    fail_fast: bool,
    just_started: bool = False,
    exited: ExitCheck | None = None,
    attempt_seconds: float = _DEFAULT_ATTEMPT_SECONDS,
    other_protocol: ProtocolCheck | None = None,
) -> float:
    """Call `probe(seconds)` until it returns without raising; return the time taken.

    Readiness is a real round trip (a query, a PING, an AMQP handshake), never a log
    line: log wording changes between image versions, the protocol does not. With
    `fail_fast` (a server someone else runs) a definitive refusal ends the wait at
    once; a server the suite is still starting may refuse for a moment.
    `just_started` (the suite started it) polls often; `exited` ends the wait as soon
    as what serves it is gone (a container that exited). Each attempt gets
    `attempt_seconds` (the connect timeout) or the time left, whichever is less.
    `other_protocol` names the protocol the port speaks when it is not the
    service's own: checked once, after the first failed attempt, it ends the wait.
    """
    started = time.monotonic()
    deadline = started + timeout
    interval = _FIRST_INTERVAL
    max_interval = _JUST_STARTED_MAX_INTERVAL if just_started else _MAX_INTERVAL
    while True:
        remaining = deadline - time.monotonic()
        try:
            probe(max(_MIN_ATTEMPT_SECONDS, min(remaining, attempt_seconds)))
        except Exception as exc:  # any failure means "not ready yet"
            if fail_fast and isinstance(exc, ServiceRefusedError):
                raise
            last_error = exc
        else:
            return time.monotonic() - started
        if other_protocol is not None:
            left = deadline - time.monotonic()
            _refuse_other_protocol(what, other_protocol, last_error, left)
            other_protocol = None  # once: a port does not change what it speaks
        gone = exited() if exited is not None else ""
        if gone:
            raise ServiceExitedError(f"{what}: {gone}") from last_error
        remaining = deadline - time.monotonic()
        if remaining < _MIN_ATTEMPT_SECONDS:
            raise ServiceNotReadyError(
                f"{what} did not answer within {timeout:.0f} s "
                f"(last error: {type(last_error).__name__}: {last_error})"
            )
        # Whatever the pause, the next attempt keeps its minimum within the deadline.
        time.sleep(max(0.0, min(interval, remaining - _MIN_ATTEMPT_SECONDS)))
        interval = min(interval * 2, max_interval)


def _refuse_other_protocol(
    what: str, check: ProtocolCheck, error: Exception, left: float
) -> None:
    # Within the deadline too: after a first attempt that took all the time (a
    # frozen server), a full check would end the wait that much past it.
    seconds = min(_PROTOCOL_CHECK_SECONDS, left)
    if seconds < _MIN_CHECK_SECONDS:
        return
    spoken = check(seconds)
    if spoken:
        raise ServiceRefusedError(
            Cause.OTHER_PROTOCOL,
            f"{what}: that port speaks {spoken} "
            f"(the probe said: {type(error).__name__}: {error})",
        ) from error
