"""Waiting for a service to answer its own protocol, always against a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import ServiceNotReadyError

_FIRST_INTERVAL = 0.1
_MAX_INTERVAL = 1.0


def wait_until_ready(probe: Callable[[], None], *, what: str, timeout: float) -> float:
    """Call `probe` until it returns without raising; return the seconds it took.

    Readiness is a real round trip (a query, a PING, an AMQP handshake), never a log
    line: log wording changes between image versions, the protocol does not.
    """
    started = time.monotonic()
    deadline = started + timeout
    interval = _FIRST_INTERVAL
    while True:
        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
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
