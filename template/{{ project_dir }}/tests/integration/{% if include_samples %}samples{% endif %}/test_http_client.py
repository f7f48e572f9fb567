"""CatalogClient against a real local HTTP server (pytest-httpserver), no mocks.

The server is a real socket on an ephemeral port; ordered and one-shot handlers
script what a flaky service would do. Waits are recorded, not slept.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .http_client import (
    CatalogClient,
    CatalogUnavailableError,
    MalformedResponseError,
    Product,
    ProductNotFoundError,
    RequestRejectedError,
    RetryPolicy,
)

LAMP = {"sku": "L-1", "name": "Lamp", "price_cents": 1999}
TOKEN = "test-token"  # noqa: S105 - the local test server checks it, nothing else


@pytest.fixture
def waits() -> list[float]:
    """The sleeps the client asked for, in order."""
    return []


@pytest.fixture
def client(httpserver: HTTPServer, waits: list[float]) -> Iterator[CatalogClient]:
    catalog = CatalogClient(httpserver.url_for(""), token=TOKEN, sleep=waits.append)
    yield catalog
    catalog.close()


def test_search_sends_method_path_query_and_headers(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    httpserver.expect_oneshot_request(
        "/products",
        method="GET",
        query_string={"q": "lamp", "limit": "5"},
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
    ).respond_with_json([LAMP])

    assert client.search("lamp", limit=5) == [Product("L-1", "Lamp", 1999)]
    httpserver.check_assertions()  # the request matched every expectation


def test_create_sends_the_json_body(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    httpserver.expect_oneshot_request(
        "/products", method="POST", json=LAMP
    ).respond_with_json(LAMP, status=201)

    assert client.create_product(Product("L-1", "Lamp", 1999)).sku == "L-1"
    httpserver.check_assertions()


def test_unknown_product_is_a_typed_error(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    httpserver.expect_request("/products/NOPE").respond_with_json({}, status=404)
    with pytest.raises(ProductNotFoundError):
        client.get_product("NOPE")


def test_bad_request_is_rejected_without_retrying(
    httpserver: HTTPServer, client: CatalogClient, waits: list[float]
) -> None:
    httpserver.expect_request("/products").respond_with_data(
        "limit too big", status=400
    )
    with pytest.raises(RequestRejectedError) as raised:
        client.search("x", limit=10_000)
    assert raised.value.status_code == 400
    assert waits == []
    assert len(httpserver.log) == 1


def test_503_then_200_is_retried_after_a_backoff(
    httpserver: HTTPServer, client: CatalogClient, waits: list[float]
) -> None:
    httpserver.expect_ordered_request("/products/L-1").respond_with_data("", status=503)
    httpserver.expect_ordered_request("/products/L-1").respond_with_json(LAMP)

    assert client.get_product("L-1").name == "Lamp"
    assert waits == [0.2]
    httpserver.check_assertions()


def test_429_waits_as_long_as_retry_after_says(
    httpserver: HTTPServer, client: CatalogClient, waits: list[float]
) -> None:
    httpserver.expect_ordered_request("/products/L-1").respond_with_data(
        "", status=429, headers={"Retry-After": "2"}
    )
    httpserver.expect_ordered_request("/products/L-1").respond_with_json(LAMP)

    client.get_product("L-1")
    assert waits == [2.0]


def test_persistent_503_gives_up_after_the_last_attempt(
    httpserver: HTTPServer, client: CatalogClient, waits: list[float]
) -> None:
    httpserver.expect_request("/products/L-1").respond_with_data("", status=503)
    with pytest.raises(CatalogUnavailableError, match="503"):
        client.get_product("L-1")
    assert waits == [0.2, 0.4]
    assert len(httpserver.log) == 3


def test_post_is_not_retried_after_a_500(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    # The server may have created the product before failing: a retry could duplicate.
    httpserver.expect_request("/products", method="POST").respond_with_data(
        "", status=500
    )
    with pytest.raises(CatalogUnavailableError, match="POST /products: 500"):
        client.create_product(Product("L-1", "Lamp", 1999))
    assert len(httpserver.log) == 1


def test_slow_server_hits_the_read_timeout(httpserver: HTTPServer) -> None:
    # Given a handler that only answers once the test lets it
    release = threading.Event()

    def slow(_request: Request) -> Response:
        release.wait(timeout=10)
        return Response(json.dumps(LAMP), content_type="application/json")

    httpserver.expect_request("/products/L-1").respond_with_handler(slow)
    catalog = CatalogClient(
        httpserver.url_for(""),
        token=TOKEN,
        timeout=httpx.Timeout(0.1),
        retry=RetryPolicy(attempts=1),
    )

    # When the client asks; Then it gives up at its read timeout
    with pytest.raises(CatalogUnavailableError, match="ReadTimeout"):
        catalog.get_product("L-1")
    catalog.close()

    # The server is shared by the next test: let the handler finish first.
    release.set()
    deadline = time.monotonic() + 5
    while not httpserver.log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(httpserver.log) == 1


def test_refused_connection_is_retried_then_reported(waits: list[float]) -> None:
    # A port that was free a moment ago: nothing listens there now.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    catalog = CatalogClient(f"http://127.0.0.1:{port}", token=TOKEN, sleep=waits.append)
    with pytest.raises(CatalogUnavailableError, match="ConnectError"):
        catalog.get_product("L-1")
    assert waits == [0.2, 0.4]
    catalog.close()


def test_malformed_json_is_a_typed_error(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    httpserver.expect_request("/products/L-1").respond_with_data(
        "{not json", content_type="application/json"
    )
    with pytest.raises(MalformedResponseError, match="not JSON"):
        client.get_product("L-1")


def test_json_of_the_wrong_shape_is_a_typed_error(
    httpserver: HTTPServer, client: CatalogClient
) -> None:
    httpserver.expect_request("/products/L-1").respond_with_json({"sku": "L-1"})
    with pytest.raises(MalformedResponseError, match="unexpected product"):
        client.get_product("L-1")
