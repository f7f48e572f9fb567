"""An outbound HTTP client: the adapter boundary the sample HTTP tests exercise.

What a client of someone else's API needs and its tests pin down: timeouts on every
request, retries with backoff on 5xx and connection errors, `Retry-After` honoured
on 429, and typed errors instead of raw status codes. A POST is only retried when
the server cannot have acted on it (refused connection, 429, 503). The sleep
function is injected so that tests check the waits without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

Sleep = Callable[[float], None]


class CatalogError(Exception):
    """Anything the catalog service did wrong, or could not be reached for."""


class ProductNotFoundError(CatalogError):
    pass


class RequestRejectedError(CatalogError):
    """A 4xx other than 404: our request was wrong; retrying will not help."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code


class CatalogUnavailableError(CatalogError):
    """Still failing (5xx, 429, timeouts, refused connections) after every retry."""


class MalformedResponseError(CatalogError):
    pass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int

    @classmethod
    def from_json(cls, data: Any) -> Product:
        try:
            return cls(str(data["sku"]), str(data["name"]), int(data["price_cents"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(f"unexpected product: {data!r}") from exc


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 0.2
    max_retry_after_seconds: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Exponential: 0.2 s, 0.4 s, 0.8 s ... before retry number `attempt`."""
        return self.backoff_seconds * 2.0 ** (attempt - 1)

    def retry_after(self, response: httpx.Response, attempt: int) -> float:
        header: str = response.headers.get("Retry-After", "")
        seconds = float(header) if header.isdigit() else self.backoff(attempt)
        return min(seconds, self.max_retry_after_seconds)


RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# These say the request was not processed: safe to retry whatever the method.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


class CatalogClient:
    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self.http.close()

    def get_product(self, sku: str) -> Product:
        return Product.from_json(self._json("GET", f"/products/{sku}"))

    def search(self, query: str, *, limit: int = 20) -> list[Product]:
        data = self._json("GET", "/products", params={"q": query, "limit": limit})
        if not isinstance(data, list):
            raise MalformedResponseError(f"expected a list, got {data!r}")
        return [Product.from_json(item) for item in data]

    def create_product(self, product: Product) -> Product:
        body = {
            "sku": product.sku,
            "name": product.name,
            "price_cents": product.price_cents,
        }
        return Product.from_json(self._json("POST", "/products", json=body))

    def _json(self, method: str, path: str, **options: Any) -> Any:
        response = self._send(method, path, **options)
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponseError(f"{method} {path}: body is not JSON") from exc

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self.http.request(method, path, **options)
            except httpx.TransportError as exc:  # refused, reset, timed out
                if last or not may_retry_error(method, exc):
                    raise CatalogUnavailableError(f"{method} {path}: {exc!r}") from exc
                self.sleep(self.retry.backoff(attempt))
                continue
            if not last and may_retry_status(method, response.status_code):
                self.sleep(self.retry.retry_after(response, attempt))
                continue
            return checked_response(response)
        raise AssertionError("unreachable: the last attempt returns or raises")


def may_retry_error(method: str, error: httpx.TransportError) -> bool:
    # A refused connection never reached the server; a timeout may have.
    return method in IDEMPOTENT_METHODS or isinstance(error, httpx.ConnectError)


def may_retry_status(method: str, status: int) -> bool:
    if status in NOT_PROCESSED_STATUSES:
        return True
    return method in IDEMPOTENT_METHODS and status in RETRIED_STATUSES


def checked_response(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status == 404:
        raise ProductNotFoundError(response.request.url.path)
    if status in RETRIED_STATUSES:
        request = response.request
        raise CatalogUnavailableError(f"{request.method} {request.url.path}: {status}")
    if 400 <= status < 500:
        raise RequestRejectedError(status, response.text)
    response.raise_for_status()
    return response
