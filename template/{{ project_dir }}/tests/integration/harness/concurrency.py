"""Doing several slow things at once, without ever making Ctrl-C wait for them.

Every thread of the harness starts through `start_thread`: what it logs carries an
exception's text, never its traceback (see `_without_tracebacks`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_JOIN_POLL_SECONDS = 0.1
# Client imports take a second at most; a thread never waits for them forever.
_IMPORTS_WAIT_SECONDS = 60.0
THREAD_PREFIX = "integration-"
_record_factory_installed = threading.Lock()


def start_thread(
    target: Callable[..., object], *args: object, name: str
) -> threading.Thread:
    """A started daemon thread of the harness: the interpreter never waits for it."""
    _install_record_factory()
    thread = threading.Thread(
        target=target, args=args, name=THREAD_PREFIX + name, daemon=True
    )
    thread.start()
    return thread


def _install_record_factory() -> None:
    # acquire(blocking=False) succeeds once per process: the lock is never released.
    if _record_factory_installed.acquire(blocking=False):
        logging.setLogRecordFactory(_without_tracebacks(logging.getLogRecordFactory()))


def _without_tracebacks(
    make_record: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """Records made in the harness's threads keep the exception's text only.

    Client libraries log what fails while a service starts (pika: every refused
    connection, with its traceback), and pytest formats each record at once. CPython
    3.11 formats a traceback with ast.parse, whose AST builder keeps its depth in
    state shared by all threads: beside collection's own ast.parse (pytest's
    assertion rewriting, Hypothesis) one of them fails with "SystemError: AST
    constructor recursion depth mismatch" (python/cpython#106905), an error in
    collection.
    """

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make_record(*args, **kwargs)
        in_harness = threading.current_thread().name.startswith(THREAD_PREFIX)
        if made.exc_info and in_harness:
            error = made.exc_info[1]
            made.exc_text = f"{type(error).__name__}: {error}" if error else None
            made.exc_info = None
        return made

    return record


def map_concurrently(
    function: Callable[[Item], Result], items: Sequence[Item]
) -> list[Result]:
    """`[function(item) for item in items]`, all at once; the first error is raised.

    Daemon threads rather than a ThreadPoolExecutor, whose threads the interpreter
    joins at exit: after Ctrl-C the run must end now, not when every container has
    finished starting. What those threads still start is removed by the janitor.
    """
    if len(items) == 1:
        return [function(items[0])]
    results: list[Result | None] = [None] * len(items)
    errors: list[BaseException] = []

    def run(index: int, item: Item) -> None:
        try:
            results[index] = function(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors.append(exc)

    threads = [
        start_thread(run, i, item, name=f"map-{i}") for i, item in enumerate(items)
    ]
    for thread in threads:
        while thread.is_alive():  # a timed join keeps Ctrl-C prompt
            thread.join(_JOIN_POLL_SECONDS)
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


class MainThreadImports:
    """While the main thread imports client packages (SQLAlchemy, psycopg, pika...)
    for the services a thread of ours is starting, that thread waits before it
    uses them (`wait`): it imports nothing itself.

    Python initialises a package once per process. Two threads entering a package
    with import cycles at once (`from sqlalchemy import Engine` in a fixture module,
    `from sqlalchemy.engine import make_url` in a probe) can leave it half-made for
    one of them: "cannot import name ... from partially initialized module". A
    thread that starts a container has a second or more of Docker work before its
    first probe, which the main thread's imports fit in; a kept container or a
    running server is probed at once, and would race them.
    """

    def __init__(self) -> None:
        self._done = threading.Event()
        self._done.set()

    @contextmanager
    def under_way(self) -> Iterator[None]:
        """Around the main thread's imports, from before it starts the thread."""
        self._done.clear()
        try:
            yield
        finally:
            self._done.set()

    def wait(self) -> None:
        """In a thread of ours, before importing or calling a client package."""
        if threading.current_thread() is not threading.main_thread():
            self._done.wait(_IMPORTS_WAIT_SECONDS)


MAIN_THREAD_IMPORTS = MainThreadImports()
