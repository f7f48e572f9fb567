"""Destructive setup only on plain test targets: loopback, started by the suite, or
declared in IT_TRUSTED_HOSTS; and only on databases whose names say "test".

A real PostgreSQL reached on this machine's network address stands in for a remote
server (through a TCP forwarder); nothing may be created or dropped on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from generated_suite import clean_environment, run_suite
from rendering import render
from server_state import postgres_databases
from tcp_forwarder import TcpForwarder, non_loopback_address

pytestmark = pytest.mark.slow

# A project name of its own: other tests run suites on the same server meanwhile,
# and these count the databases named after it.
PROJECT = "safety"
PREFIX = f"test_{PROJECT}_"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("safety") / PROJECT, services=["postgres"])


@pytest.fixture
def remote_url(native_urls: dict[str, str]) -> Iterator[str]:
    """The local PostgreSQL, reached as if it were a remote server."""
    local = urlsplit(native_urls["IT_POSTGRES_URL"])
    with TcpForwarder(non_loopback_address(), (local.hostname or "", local.port or 5432)) as f:
        host, port = f.address
        yield f"postgresql://{local.username}@{host}:{port}/test"


def test_a_server_on_another_host_is_refused_with_the_override_named(
    project: Path, suite_python: Path, remote_url: str, native_urls: dict[str, str]
) -> None:
    before = postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    env = clean_environment(IT_POSTGRES_URL=remote_url)
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    host = urlsplit(remote_url).hostname
    assert result.returncode == 1
    assert f"Refusing to create or drop databases on {host}" in result.output
    assert f"set IT_TRUSTED_HOSTS={host}" in result.output
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX) == before


def test_a_host_declared_trusted_is_used(
    project: Path, suite_python: Path, remote_url: str, native_urls: dict[str, str]
) -> None:
    before = postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    env = clean_environment(
        IT_POSTGRES_URL=remote_url, IT_TRUSTED_HOSTS=urlsplit(remote_url).hostname or ""
    )
    result = run_suite(project, [str(suite_python), "-m", "pytest"], "-n", "2", env=env)
    result.assert_all_passed(at_least=15)
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX) == before


@pytest.fixture
def production_like_url(native_urls: dict[str, str]) -> Iterator[str]:
    """A database whose name does not say "test", on the local server."""
    url = native_urls["IT_POSTGRES_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE orders")
    try:
        yield url.rsplit("/", 1)[0] + "/orders"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE orders WITH (FORCE)")


def test_a_database_not_named_for_tests_is_refused(
    project: Path, suite_python: Path, production_like_url: str
) -> None:
    env = clean_environment(IT_POSTGRES_URL=production_like_url)
    result = run_suite(project, [str(suite_python), "-m", "pytest"], env=env)
    assert result.returncode == 1
    assert "Refusing to use database 'orders' from IT_POSTGRES_URL" in result.output
