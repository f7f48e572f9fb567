"""Your web app in process, whatever its framework: requests go straight into it, no
socket, on the test's own event loop.

- Any ASGI app (FastAPI, Litestar, Starlette, Quart): `asgi_client(app)`, httpx's
  ASGITransport with the app's lifespan run by asgi-lifespan in a task of its own on
  this loop. A framework's own test client may run the app on another event loop,
  where the test's async sessions fail ("attached to a different loop",
  MissingGreenlet); entering a lifespan in a fixture by hand ends it in another task
  ("Attempted to exit cancel scope in a different task").
- Any WSGI app (Flask, Django, Falcon): `wsgi_client(app)`, httpx's WSGITransport.

Either way the app must use the test's sessions: see README.md, "Web API in process",
for handing it the sessionmaker when the framework has no dependency overrides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

import httpx

BASE_URL = "http://app.test"
# A lifespan that neither starts nor stops within this long fails the test, rather
# than hanging it until pytest-timeout (asgi-lifespan's own default is 5 s).
LIFESPAN_SECONDS = 10.0


@asynccontextmanager
async def asgi_client(
    app: Any,  # any ASGI callable: each framework types it its own way
    *,
    base_url: str = BASE_URL,
    lifespan: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient that calls `app` directly, inside its lifespan (startup
    before the first request, shutdown after the last) unless `lifespan=False`."""
    from asgi_lifespan import LifespanManager

    async with AsyncExitStack() as stack:
        if lifespan:
            manager = await stack.enter_async_context(
                LifespanManager(
                    app,
                    startup_timeout=LIFESPAN_SECONDS,
                    shutdown_timeout=LIFESPAN_SECONDS,
                )
            )
            app = manager.app  # passes the lifespan's state on to each request
        transport = httpx.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=base_url)
        )


@contextmanager
def wsgi_client(
    app: Any,  # any WSGI callable
    *,
    base_url: str = BASE_URL,
) -> Iterator[httpx.Client]:
    """An httpx.Client that calls the WSGI `app` directly, in this thread."""
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url=base_url) as client:
        yield client
