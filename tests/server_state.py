"""Look at the real servers from outside: what a generated suite left behind."""

from __future__ import annotations

import subprocess

import psycopg
import redis


def redis_keys(url: str, pattern: str = "it:*") -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=pattern))
    finally:
        client.close()


def rabbitmq_objects(prefix: str = "it.") -> list[str]:
    """Queues and exchanges on the local broker whose names start with `prefix`."""
    names: list[str] = []
    for kind in ("queues", "exchanges"):
        listed = subprocess.run(
            ["rabbitmqctl", "-q", f"list_{kind}", "name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        names += [f"{kind}:{n}" for n in listed.split() if n.startswith(prefix)]
    return names


def postgres_databases(url: str, prefix: str = "") -> set[str]:
    """Names of the databases on the server at `url` that start with `prefix`."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        )
        return {row[0] for row in rows}


def drop_postgres_databases(url: str, prefix: str) -> None:
    """Drop the databases named `prefix...`: what a killed earlier run of these tests left."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in postgres_databases(url, prefix):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
