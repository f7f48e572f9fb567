"""Which protocol a port speaks: for a URL that points at another service's port.

`IT_AMQP_URL=amqp://...:6379` (Redis' port) fails each probe in a way that looks like
a server still starting, so the run would wait its whole start-up timeout and then
say "frozen or still starting". After a probe fails, one short exchange tells the
common protocols apart, and the wait ends at once with what answers there.

No maintained Python library identifies a server by its first bytes (nmap's service
probes are data for a C program), and each check here is a few bytes: written here.
Only a positive match counts: silence, a reset or an unknown answer (a server still
starting behind Docker's port proxy) say nothing, and the wait goes on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from contextlib import closing
from urllib.parse import urlsplit

# Names as messages show them, by the protocol name services declare.
PROTOCOL_NAMES = {
    "postgres": "PostgreSQL",
    "mysql": "MySQL/MariaDB",
    "redis": "Redis",
    "amqp": "AMQP (RabbitMQ)",
    "http": "HTTP",
    "nats": "NATS",
    "ssh": "SSH",
}
# PostgreSQL's SSLRequest: a server answers one byte, S or N. Others ignore it
# (Redis and HTTP wait for a line end) or close the connection, and RabbitMQ
# answers any bytes that are not its header with its header.
_POSTGRES_SSL_REQUEST = bytes.fromhex("0000000804d2162f")
# An HTTP request line that Redis reads as a PING with two arguments: Redis answers
# -ERR (or -NOAUTH), an HTTP server a status line (405, 501, 400).
_LINE_PROBE = b"PING / HTTP/1.0\r\n\r\n"
_MYSQL_PROTOCOL_VERSION = 10
_MYSQL_HEADER = 4


def spoken_protocol(host: str, port: int, seconds: float) -> str:
    """The protocol a server at host:port speaks, or "" when it cannot be told.

    At most three short connections; each read waits at most a third of `seconds`.
    """
    wait = max(seconds / 3, 0.05)
    greeting = _exchange(host, port, b"", wait)  # MySQL, NATS and SSH speak first
    if greeting:
        return _by_greeting(greeting)
    answer = _exchange(host, port, _POSTGRES_SSL_REQUEST, wait)
    if answer in (b"S", b"N"):
        return "postgres"
    if answer.startswith(b"AMQP"):
        return "amqp"
    return _by_line_answer(_exchange(host, port, _LINE_PROBE, wait))


def _by_greeting(data: bytes) -> str:
    if data.startswith(b"INFO "):
        return "nats"
    if data.startswith(b"SSH-"):
        return "ssh"
    if len(data) > _MYSQL_HEADER and data[_MYSQL_HEADER] == _MYSQL_PROTOCOL_VERSION:
        return "mysql"  # a handshake packet: 3-byte length, sequence 0, protocol 10
    return ""


def _by_line_answer(data: bytes) -> str:
    if data.startswith((b"+PONG", b"-NOAUTH", b"-ERR", b"-WRONGPASS")):
        return "redis"
    if data.startswith(b"HTTP/"):
        return "http"
    if data.startswith(b"AMQP"):
        return "amqp"
    return ""


def _exchange(host: str, port: int, send: bytes, wait: float) -> bytes:
    """Connect, send `send`, and return what comes back within `wait` seconds."""
    try:
        with closing(socket.create_connection((host, port), timeout=wait)) as sock:
            if send:
                sock.sendall(send)
            return sock.recv(64)
    except OSError:  # refused, reset, silent: nothing to tell from
        return b""


def other_protocol_check(
    url: str, default_port: int, own: str
) -> Callable[[float], str]:
    """For readiness.wait_until_ready: "<protocol>, not <own>" when the URL's port
    speaks another protocol than `own`, else ""."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port

    def check(seconds: float) -> str:
        spoken = spoken_protocol(host, port, seconds)
        if spoken in ("", own):
            return ""
        return f"{PROTOCOL_NAMES[spoken]}, not {PROTOCOL_NAMES.get(own, own)}"

    return check
