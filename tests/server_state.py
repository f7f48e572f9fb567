"""Look at the real servers from outside: what a generated suite left behind."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pymysql
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


def mysql_databases(url: str, prefix: str = "") -> set[str]:
    """Names of the databases on the MySQL/MariaDB server at `url` starting with `prefix`."""
    parts = urlsplit(url)
    connection = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall() if row[0].startswith(prefix)}
    finally:
        connection.close()


def drop_mysql_databases(url: str, prefix: str) -> None:
    parts = urlsplit(url)
    connection = pymysql.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
        user=parts.username or "root", password=parts.password or "",
    )  # fmt: skip
    try:
        with connection.cursor() as cursor:
            for name in mysql_databases(url, prefix):
                cursor.execute(f"DROP DATABASE `{name}`")
    finally:
        connection.close()


def run_state_folders(project: str) -> list[Path]:
    """State folders of `project`'s generated-suite runs on this machine."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob("integration-runs-of-*/*"):
        described = folder / "run.json"
        if described.exists() and f'"project": "{project}"' in described.read_text():
            found.append(folder)
    return sorted(found)
