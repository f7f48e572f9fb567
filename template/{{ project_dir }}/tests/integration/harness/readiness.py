"""Waiting for a service to answer its own protocol, always against a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import ServiceNotReadyError, ServiceRefusedError

_FIRST_INTERVAL = 0.05
_MAX_INTERVAL = 1.0
# No single attempt may take longer than this, so the deadline is kept even when the
# service accepts connections and then never answers (a frozen process).
_MAX_ATTEMPT_SECONDS = 10.0

Probe = Callable[[float], None]


def wait_until_ready(
    probe: Probe, *, what: str, timeout: float, fail_fast: bool
) -> float:
    """Call `probe(seconds)` until it returns without raising; return the time taken.

    Readiness is a real round trip (a query, a PING, an AMQP handshake), never a log
    line: log wording changes between image versions, the protocol does not. With
    `fail_fast` (a server someone else runs) a definitive refusal ends the wait at
    once; a server the suite is still starting may refuse for a moment.
    """
    started = time.monotonic()
    deadline = started + timeout
    interval = _FIRST_INTERVAL
    while True:
        remaining = deadline - time.monotonic()
        try:
            probe(max(0.5, min(remaining, _MAX_ATTEMPT_SECONDS)))
        except Exception as exc:  # any failure means "not ready yet"
            if fail_fast and isinstance(exc, ServiceRefusedError):
                raise
            last_error = exc
        else:
            return time.monotonic() - started
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ServiceNotReadyError(
                f"{what} did not answer within {timeout:.0f} s "
                f"(last error: {type(last_error).__name__}: {last_error})"
            )
        time.sleep(min(interval, remaining))
        interval = min(interval * 2, _MAX_INTERVAL)
