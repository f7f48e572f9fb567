"""How to start, reach and probe PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..answers import IMAGES
from ..service_spec import ServiceSpec
from .embedded import EmbeddedPostgres

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

    from ..endpoints import ServiceEndpoint
    from ..run_state import RunState
    from ..settings import RunSettings

# Durability buys nothing in a throw-away test server and costs seconds per run.
FAST_SERVER_FLAGS = (
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
)
_CONNECT_TIMEOUT_SECONDS = 3


def sqlalchemy_url(url: str | URL, database: str | None = None) -> URL:
    """The URL with the psycopg 3 driver (sync and async), maybe for another db."""
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    return parsed.set(database=database) if database is not None else parsed


def libpq_conninfo(url: str | URL) -> str:
    """A URL libpq understands (no SQLAlchemy driver suffix)."""
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def check_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a URL ({exc})") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"scheme {parsed.drivername!r} is not PostgreSQL")
    if not parsed.database:
        raise ValueError("it names no database (add /test or /postgres at the end)")


def probe(url: str) -> None:
    with psycopg.connect(
        libpq_conninfo(url), connect_timeout=_CONNECT_TIMEOUT_SECONDS
    ) as conn:
        conn.execute("SELECT 1")


def container(image: str, labels: dict[str, str]) -> DockerContainer:
    from testcontainers.community.postgres import PostgresContainer

    return (
        PostgresContainer(
            image,
            username="test",
            password="test",  # noqa: S106 - a throw-away test server
            dbname="test",
            driver=None,
            labels=labels,
        )
        .with_command(["postgres", *FAST_SERVER_FLAGS])
        .with_tmpfs_mount("/var/lib/postgresql/data")
    )


def release_run(
    endpoint: ServiceEndpoint, run: RunState, settings: RunSettings
) -> None:
    from .databases import drop_run_databases

    drop_run_databases(endpoint, run, keep=settings.keep_services)


POSTGRES = ServiceSpec(
    name="postgres",
    url_env="IT_POSTGRES_URL",
    image_env="IT_POSTGRES_IMAGE",
    default_image=IMAGES["postgres"],
    port=5432,
    url_example="postgresql://postgres:postgres@127.0.0.1:5432/test",
    url_for=lambda host, port: f"postgresql://test:test@{host}:{port}/test",
    probe=probe,
    container=container,
    check_url=check_url,
    release_run=release_run,
    embedded=EmbeddedPostgres(server_flags=FAST_SERVER_FLAGS),
)
