"""InventoryClient against a real local HTTP server (pytest-httpserver), no mocks.

The breaker's timeout is real (a fraction of a second), the retries' waits are
recorded instead of slept except where the test is about real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pybreaker
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from .resilient_http import (
    Budget,
    CircuitOpenError,
    ClientCredentialsTokens,
    InventoryClient,
    InventoryUnavailableError,
    NotAuthorizedError,
    RequestRejectedError,
    new_breaker,
)

STOCK = {"sku": "L-1", "available": 7}
RESET_SECONDS = 1.0  # long enough that a busy machine never lets it pass early
MakeClient = Callable[..., InventoryClient]


class StateLog(pybreaker.CircuitBreakerListener):
    """The breaker's states, in the order it entered them."""

    def __init__(self) -> None:
        self.states: list[str] = []

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,  # noqa: ARG002 - pybreaker's signature
        old_state: pybreaker.CircuitBreakerState | None,  # noqa: ARG002
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        self.states.append(new_state.name)


class FixedToken:
    def current(self) -> str:
        return "t0"

    def refresh(self) -> str:
        return "t0"


@pytest.fixture
def states() -> StateLog:
    return StateLog()


@pytest.fixture
def breaker(states: StateLog) -> pybreaker.CircuitBreaker:
    breaker = new_breaker(fail_max=3, reset_seconds=RESET_SECONDS)
    breaker.add_listener(states)
    return breaker


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def make_client(
    httpserver: HTTPServer, breaker: pybreaker.CircuitBreaker, waits: list[float]
) -> Iterator[MakeClient]:
    made: list[InventoryClient] = []

    def make(**options: object) -> InventoryClient:
        settings: dict[str, object] = {
            "tokens": FixedToken(),
            "breaker": breaker,
            "budget": Budget(attempts=1),
            "sleep": waits.append,
            **options,
        }
        client = InventoryClient(httpserver.url_for(""), **settings)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def stock_requests(httpserver: HTTPServer) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/stock/L-1")


def test_the_circuit_opens_after_n_failures_and_then_fails_fast(
    httpserver: HTTPServer, make_client: MakeClient, breaker: pybreaker.CircuitBreaker
) -> None:
    # Given a service that fails every call
    httpserver.expect_request("/stock/L-1").respond_with_data("", status=500)
    client = make_client()

    # When it is called three times (fail_max), the third failure opens the circuit
    for _ in range(2):
        with pytest.raises(InventoryUnavailableError, match="500"):
            client.available("L-1")
    with pytest.raises(CircuitOpenError, match="threshold reached"):
        client.available("L-1")

    # Then the next call fails at once, without reaching the service
    with pytest.raises(CircuitOpenError, match="still open"):
        client.available("L-1")
    assert stock_requests(httpserver) == 3
    assert breaker.current_state == "open"


def test_a_successful_probe_closes_the_circuit(
    httpserver: HTTPServer, make_client: MakeClient, states: StateLog
) -> None:
    # Given an open circuit
    httpserver.expect_request("/stock/L-1").respond_with_data("", status=503)
    client = make_client()
    for _ in range(3):
        with pytest.raises(InventoryUnavailableError):
            client.available("L-1")

    # When the service recovers and the reset timeout has passed
    httpserver.clear()
    httpserver.expect_request("/stock/L-1").respond_with_json(STOCK)
    time.sleep(RESET_SECONDS + 0.05)

    # Then one probe goes through (half-open) and closes the circuit
    assert client.available("L-1") == 7
    assert client.available("L-1") == 7
    assert states.states == ["open", "half-open", "closed"]


def test_a_failed_probe_opens_the_circuit_again(
    httpserver: HTTPServer, make_client: MakeClient, states: StateLog
) -> None:
    httpserver.expect_request("/stock/L-1").respond_with_data("", status=503)
    client = make_client()
    for _ in range(3):
        with pytest.raises(InventoryUnavailableError):
            client.available("L-1")
    time.sleep(RESET_SECONDS + 0.05)

    # The probe, and only the probe, reaches the still failing service
    with pytest.raises(CircuitOpenError, match="Trial call failed"):
        client.available("L-1")
    with pytest.raises(CircuitOpenError, match="still open"):
        client.available("L-1")
    assert stock_requests(httpserver) == 4
    assert states.states == ["open", "half-open", "open"]


def test_our_own_mistakes_do_not_open_the_circuit(
    httpserver: HTTPServer, make_client: MakeClient, breaker: pybreaker.CircuitBreaker
) -> None:
    httpserver.expect_request("/stock/L-1").respond_with_data("bad sku", status=400)
    client = make_client()

    for _ in range(5):
        with pytest.raises(RequestRejectedError):
            client.available("L-1")

    assert breaker.current_state == "closed"
    assert stock_requests(httpserver) == 5


def test_retries_stop_when_the_circuit_opens(
    httpserver: HTTPServer, make_client: MakeClient, waits: list[float]
) -> None:
    httpserver.expect_request("/stock/L-1").respond_with_data("", status=502)
    client = make_client(budget=Budget(attempts=10))

    with pytest.raises(CircuitOpenError):
        client.available("L-1")

    # Three attempts (fail_max), two backoffs between them, then no more
    assert stock_requests(httpserver) == 3
    assert waits == [0.2, 0.4]


def test_retry_after_is_waited_for(
    httpserver: HTTPServer, make_client: MakeClient, waits: list[float]
) -> None:
    httpserver.expect_ordered_request("/stock/L-1").respond_with_data(
        "", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_ordered_request("/stock/L-1").respond_with_json(STOCK)
    client = make_client(budget=Budget(attempts=3))

    assert client.available("L-1") == 7
    assert waits == [3.0]


@pytest.mark.parametrize(
    "retry_after", ["120", "Fri, 01 Jan 2100 00:00:00 GMT"], ids=["seconds", "date"]
)
def test_a_retry_after_past_the_budget_ends_the_call_now(
    httpserver: HTTPServer,
    make_client: MakeClient,
    waits: list[float],
    retry_after: str,
) -> None:
    httpserver.expect_request("/stock/L-1").respond_with_data(
        "", status=503, headers={"Retry-After": retry_after}
    )
    client = make_client(budget=Budget(attempts=5, total_seconds=10))

    # Waiting would take longer than the caller allows: give up now, without waiting
    with pytest.raises(InventoryUnavailableError, match="503"):
        client.available("L-1")
    assert waits == []
    assert stock_requests(httpserver) == 1


def test_the_total_time_is_bounded_by_the_budget(
    httpserver: HTTPServer, breaker: pybreaker.CircuitBreaker
) -> None:
    # Given a service that fails for good, a breaker that never opens, real sleeps
    httpserver.expect_request("/stock/L-1").respond_with_data("", status=503)
    breaker.fail_max = 1_000
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    client = InventoryClient(
        httpserver.url_for(""),
        tokens=FixedToken(),
        breaker=breaker,
        budget=Budget(attempts=100, total_seconds=1.0, backoff_seconds=0.1),
        sleep=sleep,
    )

    # When it is called
    started = time.monotonic()
    with pytest.raises(InventoryUnavailableError):
        client.available("L-1")
    elapsed = time.monotonic() - started
    client.close()

    # Then it slept less than the budget (0.1 + 0.2 + 0.4 s when requests are quick;
    # the next 0.8 s would have ended past it), and ended within the budget plus
    # what its last request took (a generous second on a busy machine)
    assert slept
    assert sum(slept) < 1.0
    assert elapsed < 2.0


@pytest.fixture
def tokens(httpserver: HTTPServer) -> Iterator[ClientCredentialsTokens]:
    """Tokens from the local server's /oauth/token: t1, t2, t3 ... one per request."""
    issued: list[str] = []

    def token_endpoint(request: Request) -> Response:
        assert request.form["grant_type"] == "client_credentials"
        issued.append(f"t{len(issued) + 1}")
        return Response(
            f'{{"access_token": "{issued[-1]}"}}', mimetype="application/json"
        )

    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(
        token_endpoint
    )
    with httpx.Client(timeout=5) as http:
        url = httpserver.url_for("/oauth/token")
        yield ClientCredentialsTokens(http, url, "app", "s3cret")


def token_requests(httpserver: HTTPServer) -> int:
    return sum(1 for request, _ in httpserver.log if request.path == "/oauth/token")


def test_a_401_refreshes_the_token_and_retries_once(
    httpserver: HTTPServer, make_client: MakeClient, tokens: ClientCredentialsTokens
) -> None:
    # Given an API that no longer takes the first token, and takes the second
    httpserver.expect_request(
        "/stock/L-1", headers={"Authorization": "Bearer t1"}
    ).respond_with_data("expired", status=401)
    httpserver.expect_request(
        "/stock/L-1", headers={"Authorization": "Bearer t2"}
    ).respond_with_json(STOCK)

    # When the client asks
    client = make_client(tokens=tokens)

    # Then it fetched a token, was refused, refreshed it, and got its answer
    assert client.available("L-1") == 7
    assert (token_requests(httpserver), stock_requests(httpserver)) == (2, 2)


def test_a_401_with_a_fresh_token_is_an_error_not_a_loop(
    httpserver: HTTPServer,
    make_client: MakeClient,
    tokens: ClientCredentialsTokens,
    breaker: pybreaker.CircuitBreaker,
) -> None:
    httpserver.expect_request("/stock/L-1").respond_with_data("revoked", status=401)
    client = make_client(tokens=tokens, budget=Budget(attempts=5))

    with pytest.raises(NotAuthorizedError, match="fresh token"):
        client.available("L-1")

    # One refresh, one retry, and the breaker does not blame the service
    assert (token_requests(httpserver), stock_requests(httpserver)) == (2, 2)
    assert breaker.current_state == "closed"
