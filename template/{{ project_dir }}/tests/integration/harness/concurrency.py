"""Doing several slow things at once, without ever making Ctrl-C wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_JOIN_POLL_SECONDS = 0.1


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
        threading.Thread(target=run, args=(i, item), daemon=True)
        for i, item in enumerate(items)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # a timed join keeps Ctrl-C prompt
            thread.join(_JOIN_POLL_SECONDS)
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]
