"""Every call to a SQL database ends within IT_CALL_TIMEOUT, even when the server froze.

A live server ends a slow statement itself (statement_timeout, lock timeouts: see each
dialect's connect_args) with a clear error. A frozen server, or a network that drops
packets while the kernel still accepts them, answers nothing at all, and libpq has no
client-side read timeout: the test would wait forever. So a watchdog thread shuts the
socket of any statement still waiting a few seconds after IT_CALL_TIMEOUT; the call
then fails with a disconnect error, SQLAlchemy invalidates the connection, and the
run goes on. No library does this for psycopg; it is a socket shutdown, nothing more.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event

if TYPE_CHECKING:
    from ..settings import RunSettings
    from .dialect import SqlDialect

# The server's own timeout should speak first, with the clearer message.
_GRACE_SECONDS = 5.0
_TICK_SECONDS = 0.25
# The KeyboardInterrupt that follows Ctrl-C during a call waits for pytest to report
# the failed call (raise_pending_interrupt); without a report, it comes after this.
_INTERRUPT_FALLBACK_SECONDS = 1.0


class _Watchdog:
    """Deadlines of calls in flight, one per connection; one daemon thread per process.

    Keyed by the id of the SQLAlchemy Connection, with the socket stored beside the
    deadline: this runs twice for every statement of every test, and the end of a
    call then need not ask the driver for its socket again.
    """

    def __init__(self) -> None:
        self._calls: dict[int, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def arm(self, key: int, fd: int, seconds: float) -> None:
        with self._lock:
            self._calls[key] = (time.monotonic() + seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="sql-call-deadlines", daemon=True
                )
                self._thread.start()

    def disarm(self, key: int) -> None:
        with self._lock:
            self._calls.pop(key, None)

    def expire_all(self) -> int:
        """Shut every socket a call is waiting on now; how many there were."""
        with self._lock:
            fds = [fd for _, fd in self._calls.values()]
            self._calls.clear()
        for fd in fds:
            _shut(fd)
        return len(fds)

    def _watch(self) -> None:
        while True:
            time.sleep(_TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [key for key, (due, _) in self._calls.items() if due <= now]
                fds = [self._calls.pop(key)[1] for key in expired]
            for fd in fds:
                _shut(fd)


def _shut(fd: int) -> None:
    """Make the blocked call see the connection closed (the fd stays the driver's)."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


_WATCHDOG = _Watchdog()


def _interrupted(signum: int, frame: Any) -> None:
    """Ctrl-C while a call waits on a server that does not answer.

    psycopg answers a KeyboardInterrupt inside a query by asking the server to cancel
    it, over a new connection, for up to 5 s, and then waits 5 s more: 10 s against a
    frozen server. Shutting the waiting sockets first makes the call fail at once
    (a disconnect, which SQLAlchemy invalidates); the KeyboardInterrupt follows once
    pytest has reported that failure, as if Ctrl-C had come just after.
    """
    in_flight = _WATCHDOG.expire_all()
    if not in_flight:
        signal.default_int_handler(signum, frame)
    _PENDING_INTERRUPT.set()
    threading.Timer(_INTERRUPT_FALLBACK_SECONDS, _interrupt_if_pending).start()


class _PendingInterrupt:
    """Ctrl-C that came during a call, to be raised once at a safe moment.

    Not from a timer at any moment: a KeyboardInterrupt raised while pytest formats the
    failed call's traceback (ast.parse) crashes CPython 3.11's AST builder
    ("recursion depth mismatch", an INTERNALERROR that skips the run's clean-up), and
    one raised in a garbage-collection callback is swallowed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending = False

    def set(self) -> None:
        with self._lock:
            self._pending = True

    def take(self) -> bool:
        with self._lock:
            pending, self._pending = self._pending, False
        return pending


_PENDING_INTERRUPT = _PendingInterrupt()


def raise_pending_interrupt() -> None:
    """Raise the KeyboardInterrupt of a Ctrl-C that came during a call, if any."""
    if _PENDING_INTERRUPT.take():
        raise KeyboardInterrupt


def _interrupt_if_pending() -> None:
    if _PENDING_INTERRUPT.take():
        _thread.interrupt_main()


def _install_interrupt_handler() -> None:
    """Once per process, in the main thread, unless someone else handles SIGINT."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)


def bound_calls(engine: Engine, dialect: SqlDialect, settings: RunSettings) -> None:
    """Arm a deadline around every statement `engine` runs (sync or async)."""
    limit = settings.call_timeout + _GRACE_SECONDS
    _install_interrupt_handler()

    def before(connection: Connection, *_: Any) -> None:
        fd = _socket_of(connection, dialect)
        if fd is not None:
            _WATCHDOG.arm(id(connection), fd, limit)

    def after(connection: Connection, *_: Any) -> None:
        _WATCHDOG.disarm(id(connection))

    def on_error(context: Any) -> None:
        if context.connection is not None:
            after(context.connection)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", on_error)


@contextmanager
def bounded(
    connection: Connection, dialect: SqlDialect, seconds: float
) -> Iterator[None]:
    """A deadline around calls that are not statements (COMMIT, ROLLBACK)."""
    fd = _socket_of(connection, dialect)
    if fd is not None:
        _WATCHDOG.arm(id(connection), fd, seconds + _GRACE_SECONDS)
    try:
        yield
    finally:
        if fd is not None:
            _WATCHDOG.disarm(id(connection))


def _socket_of(connection: Connection, dialect: SqlDialect) -> int | None:
    if connection.invalidated or connection.closed:
        return None
    try:  # not contextlib.suppress: this runs before every statement
        return dialect.socket_of(connection.connection.driver_connection)
    except Exception:  # noqa: BLE001 - no socket to watch is not an error
        return None
