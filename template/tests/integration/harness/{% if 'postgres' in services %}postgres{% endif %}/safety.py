"""Never create, drop or empty a database that is not plainly a test target.

The suite runs CREATE/DROP DATABASE and deletes rows. A mistyped IT_POSTGRES_URL must
not be able to point that at a shared or production server, so destructive setup only
runs on a server the suite started, on a loopback address, or on a host the user named
in IT_TRUSTED_HOSTS; and only on databases whose names say "test".
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from ..endpoints import ServiceEndpoint
from ..errors import UnsafeTargetError

MAINTENANCE_DATABASES = frozenset({"postgres", "template1"})


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


def ensure_disposable_server(endpoint: ServiceEndpoint, url: URL) -> None:
    """Refuse destructive setup on a server not ours, not local, not trusted."""
    if endpoint.started_by_suite:
        return
    socket_dir = url.query.get("host")
    host = str(socket_dir if isinstance(socket_dir, str) else url.host or "")
    if not is_loopback(host) and host.lower() not in trusted_hosts():
        raise UnsafeTargetError(
            f"Refusing to create or drop databases on {host}: it is not a loopback "
            f"address and this suite did not start it. If {host} is a disposable "
            f"test server, set IT_TRUSTED_HOSTS={host}"
        )
    database = url.database or ""
    if "test" not in database.lower() and database not in MAINTENANCE_DATABASES:
        raise UnsafeTargetError(
            f"Refusing to use database {database!r} from IT_POSTGRES_URL: its name "
            "does not say 'test'. Point the URL at a test database (.../test) or at "
            "the maintenance database (.../postgres); the suite creates its own "
            "databases next to it."
        )


def ensure_test_database_name(name: str) -> None:
    if "test" not in name.lower():
        raise UnsafeTargetError(
            f"Refusing to create, drop or empty {name!r}: not a test database"
        )


def ensure_connected_to(connection: Connection, expected: str) -> None:
    """Check again on the live connection: the server says which database it is."""
    current = connection.execute(text("SELECT current_database()")).scalar_one()
    if current != expected:
        raise UnsafeTargetError(
            f"Expected to be connected to {expected!r} but the server says {current!r}"
        )
    ensure_test_database_name(current)
