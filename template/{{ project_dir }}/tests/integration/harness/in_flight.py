"""The report of a test that was using a service when the service stopped answering.

The service is gone, and the run says so once; the test's traceback (a client's
chained errors, an event loop's cancellation: hundreds of lines) would only bury
that. It is replaced by a few lines: which service, what the test was doing with
it, and the limit that ended the wait. `--tb=long` (any explicit --tb) keeps
pytest's own report, for the rare debugging of the client itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from .settings import RunSettings

# Errors whose meaning depends on who raised them: a service's own client errors
# are told by its spec; these are confirmed by probing the service first.
GENERIC_CONNECTION_ERRORS = (TimeoutError, ConnectionError, asyncio.CancelledError)
_MAX_MESSAGE = 200


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and what caused it, outermost first (each once)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def keeps_full_report(config: pytest.Config) -> bool:
    """An explicit --tb (anything but pytest's default "auto") is what the user
    asked for: it is kept."""
    return str(config.getoption("tbstyle", "auto")) != "auto"


def short_report(
    item: pytest.Item,
    excinfo: pytest.ExceptionInfo[BaseException],
    service: str,
    settings: RunSettings,
) -> str:
    """A few lines instead of the traceback of a test whose service went away."""
    error = excinfo.value
    message = next(iter(str(error).splitlines()), "") or type(error).__name__
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    lines = [
        f"{service} stopped answering while this test was using it.",
        f"  error: {type(error).__name__}: {message}",
        *_where(item, excinfo),
        (
            f"  ended by: IT_CALL_TIMEOUT={settings.call_timeout:g} s per call, "
            f"IT_CONNECT_TIMEOUT={settings.connect_timeout:g} s per connection"
        ),
        "  (the full traceback: pytest --tb=long)",
    ]
    return "\n".join(lines)


def _where(
    item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]
) -> list[str]:
    """The innermost line of the test's own code (not the harness, not a library):
    what the test was doing when the service stopped answering."""
    root = item.config.rootpath
    harness = Path(__file__).parent
    ours = [
        entry
        for entry in excinfo.traceback
        if _is_test_code(Path(str(entry.path)), root, harness)
    ]
    if not ours:
        return []
    entry = ours[-1]
    source = str(entry.statement).strip().splitlines()
    doing = source[0] if source else ""
    location = f"{Path(str(entry.path)).relative_to(root)}:{entry.lineno + 1}"
    return [f"  doing: {doing}", f"  at: {location}"]


def _is_test_code(path: Path, root: Path, harness: Path) -> bool:
    return (
        path.is_relative_to(root)
        and not path.is_relative_to(harness)
        and "site-packages" not in path.parts
    )
