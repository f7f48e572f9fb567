"""Never create, drop or empty a database that is not plainly a test target.

The suite runs CREATE/DROP DATABASE and deletes rows. A mistyped IT_<DB>_URL must not
be able to point that at a shared or production server, so destructive setup only
runs on a server the suite started, on a loopback address, or on a host the user
named in IT_TRUSTED_HOSTS; and only on databases whose names say "test". The URL is
checked before anything connects to it; the live connection is checked again.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Collection

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..errors import UnsafeTargetError


def trusted_hosts() -> set[str]:
    return {
        h.strip().lower()
        for h in os.environ.get("IT_TRUSTED_HOSTS", "").split(",")
        if h.strip()
    }


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8, ::1, a Unix socket, or a name resolving only to those."""
    if not host or host.startswith("/") or host.lower() == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def ensure_disposable_server(
    url: URL, *, url_env: str, maintenance: Collection[str], started_by_suite: bool
) -> None:
    """Refuse a server not ours, not local and not trusted, or a non-test database."""
    socket_dir = url.query.get("host") or url.query.get("unix_socket")
    host = str(socket_dir if isinstance(socket_dir, str) else url.host or "")
    if (
        not started_by_suite
        and not is_loopback(host)
        and host.lower() not in trusted_hosts()
    ):
        raise UnsafeTargetError(
            f"Refusing to create or drop databases on {host}: it is not a loopback "
            f"address and this suite did not start it. If {host} is a disposable "
            f"test server, set IT_TRUSTED_HOSTS={host}"
        )
    database = url.database or ""
    if "test" not in database.lower() and database not in maintenance:
        examples = " or ".join(f".../{name}" for name in ("test", *sorted(maintenance)))
        raise UnsafeTargetError(
            f"Refusing to use database {database!r} from {url_env}: its name does "
            f"not say 'test'. Point the URL at {examples}; the suite creates its "
            "own databases next to it."
        )


def check_database_url(
    url: str,
    *,
    backend: str,
    url_env: str,
    maintenance: Collection[str],
) -> None:
    """IT_<DB>_URL, before anything connects: well formed, and a safe target."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parsed.get_backend_name() != backend:
        raise ValueError(f"scheme {parsed.drivername!r} is not {backend}")
    if not parsed.database:
        raise ValueError("it names no database (add /test at the end)")
    ensure_disposable_server(
        parsed, url_env=url_env, maintenance=maintenance, started_by_suite=False
    )


def ensure_test_database_name(name: str) -> None:
    if "test" not in name.lower():
        raise UnsafeTargetError(
            f"Refusing to create, drop or empty {name!r}: not a test database"
        )


def ensure_connected_to(current: str, expected: str) -> None:
    """Check again on the live connection: the server says which database it is."""
    if current != expected:
        raise UnsafeTargetError(
            f"Expected to be connected to {expected!r} but the server says {current!r}"
        )
    ensure_test_database_name(current)
