"""Outbound HTTP that survives a struggling dependency: a client of an inventory API.

What http_client.py does not cover, each from a maintained library where one fits:
- A circuit breaker (pybreaker): after `fail_max` failures in a row the client stops
  calling for `reset_timeout` seconds and fails at once (CircuitOpenError), which
  spares a struggling service the load and our callers the waits. Then one probe
  (half-open) decides: a success closes the circuit, a failure opens it again.
- Retries (tenacity) that wait what `Retry-After` asks, within a total time budget:
  a wait that would end past the budget ends the call now instead. The total is
  bounded by the budget plus one request's timeout.
- A 401 refreshes the access token and retries once; a second 401 is an error. A
  loop of refreshes would hammer the token endpoint with credentials that fail.

Only the dependency's own failures (5xx, timeouts, refused connections) trip the
breaker: a 4xx says our request was wrong, a 429 that the service is busy, not ill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz
from typing import Any, Protocol

import httpx
import pybreaker
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

Sleep = Callable[[float], None]
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class InventoryError(Exception):
    """Anything that kept a call to the inventory service from an answer."""


class InventoryUnavailableError(InventoryError):
    """Still failing after the retries the budget allowed."""


class CircuitOpenError(InventoryUnavailableError):
    """The breaker is open: the service failed too often, and is left alone a while."""


class NotAuthorizedError(InventoryError):
    """401 again with a fresh token, or no token to be had: wrong credentials."""


class RequestRejectedError(InventoryError):
    """A 4xx other than 401 and 429: our request was wrong; retrying will not help."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code


class RetryableError(InventoryError):
    """One failed attempt that may pass later: a 5xx, a timeout, a refused connect."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """A 429: retried, but not a failure of the service (the breaker ignores it)."""


class TokenSource(Protocol):
    def current(self) -> str: ...

    def refresh(self) -> str: ...


class ClientCredentialsTokens:
    """OAuth 2.0 client credentials: an access token from the token endpoint, kept
    until the API refuses it."""

    def __init__(
        self, http: httpx.Client, token_url: str, client_id: str, client_secret: str
    ) -> None:
        self.http = http
        self.token_url = token_url
        self.credentials = {"client_id": client_id, "client_secret": client_secret}
        self.token: str | None = None

    def current(self) -> str:
        return self.token if self.token is not None else self.refresh()

    def refresh(self) -> str:
        form = {"grant_type": "client_credentials", **self.credentials}
        response = self.http.post(self.token_url, data=form)
        if not response.is_success:
            raise NotAuthorizedError(f"token endpoint: {response.status_code}")
        self.token = str(response.json()["access_token"])
        return self.token


@dataclass(frozen=True)
class Budget:
    attempts: int = 4
    total_seconds: float = 10.0
    backoff_seconds: float = 0.2


def new_breaker(
    fail_max: int = 5, reset_seconds: float = 30.0
) -> pybreaker.CircuitBreaker:
    """One breaker per dependency, shared by every client of it in the process."""
    # pybreaker counts an excluded error as a success: the service did answer.
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_seconds,
        exclude=[RequestRejectedError, NotAuthorizedError, RateLimitedError],
        name="inventory",
    )


class InventoryClient:
    def __init__(  # noqa: PLR0913 - each one is a knob a test or a caller sets
        self,
        base_url: str,
        *,
        tokens: TokenSource,
        breaker: pybreaker.CircuitBreaker,
        budget: Budget | None = None,
        sleep: Sleep = time.sleep,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.tokens = tokens
        self.breaker = breaker
        self.budget = budget or Budget()
        self.sleep = sleep
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def available(self, sku: str) -> int:
        data = self._get(f"/stock/{sku}")
        return int(data["available"])

    def _get(self, path: str) -> Any:
        retrying = Retrying(
            stop=stop_after_attempt(self.budget.attempts)
            | stop_before_delay(self.budget.total_seconds),
            wait=self._wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._through_breaker, path)
        except RetryableError as exc:
            raise InventoryUnavailableError(f"GET {path}: {exc}") from exc

    def _wait(self, state: RetryCallState) -> float:
        """What Retry-After asks, else exponential backoff: 0.2 s, 0.4 s, 0.8 s ..."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        return self.budget.backoff_seconds * 2.0 ** (state.attempt_number - 1)

    def _through_breaker(self, path: str) -> Any:
        try:
            return self.breaker.call(self._authorized, path)
        except pybreaker.CircuitBreakerError as exc:
            # Not retried: waiting inside the call for the circuit to close would
            # keep our caller waiting for what we already know.
            raise CircuitOpenError(f"GET {path}: {exc}") from exc

    def _authorized(self, path: str) -> Any:
        response = self._send(path, self.tokens.current())
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # Once: the token may have expired. A second 401 is not about expiry.
            response = self._send(path, self.tokens.refresh())
            if response.status_code == httpx.codes.UNAUTHORIZED:
                raise NotAuthorizedError(f"GET {path}: 401 with a fresh token")
        return checked(response).json()

    def _send(self, path: str, token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            return self.http.get(path, headers=headers)
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise RetryableError(repr(exc)) from exc


def checked(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status == httpx.codes.TOO_MANY_REQUESTS:
        raise RateLimitedError("429", retry_after(response))
    if response.is_server_error:
        raise RetryableError(str(status), retry_after(response))
    if response.is_client_error:
        raise RequestRejectedError(status, response.text)
    return response


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: delay-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    date = parsedate_tz(value)
    if date is None:
        return None  # absent or unreadable: our own backoff
    return max(0.0, mktime_tz(date) - time.time())
