"""A service URL pointed at another service's port is refused at once, naming what
answers there, instead of being waited for as a server still starting."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from generated_suite import clean_environment, run_suite
from rendering import ALL_SERVICES, render

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 60
# Each URL at the port of the service on its right; what then answers there.
SWAPS = {
    "IT_POSTGRES_URL": ("IT_MYSQL_URL", "MySQL/MariaDB"),
    "IT_MYSQL_URL": ("IT_POSTGRES_URL", "PostgreSQL"),
    "IT_REDIS_URL": ("IT_AMQP_URL", "AMQP (RabbitMQ)"),
    "IT_AMQP_URL": ("IT_REDIS_URL", "Redis"),
}


def at_port_of(url: str, other: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{urlsplit(other).port}"))


def test_each_url_at_another_services_port_is_refused_at_once(
    tmp_path: Path, suite_python: Path, native_urls: dict[str, str]
) -> None:
    project = render(tmp_path / "shop", services=ALL_SERVICES)
    urls = {
        env: at_port_of(native_urls[env], native_urls[other]) for env, (other, _) in SWAPS.items()
    }
    env = clean_environment(
        CI="true", IT_STARTUP_TIMEOUT=str(STARTUP_TIMEOUT), IT_CONNECT_TIMEOUT="5", **urls
    )
    started = time.monotonic()
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    elapsed = time.monotonic() - started

    assert result.returncode == 1, result.summary()
    # One connect timeout at most (pymysql waits that long for a greeting PostgreSQL
    # never sends), never the start-up timeout.
    assert elapsed < STARTUP_TIMEOUT / 2, result.summary()
    for variable, (_, spoken) in SWAPS.items():
        port = urlsplit(urls[variable]).port
        assert f"that port speaks {spoken}, not " in result.output, result.summary()
        assert f"127.0.0.1:{port} is another service's port: fix the port in {variable}" in (
            result.output
        ), result.summary()
    assert "another protocol answers there" in result.output
    assert "did not become ready" not in result.output, result.summary()
