"""Look at the real servers from outside: what a generated suite left behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
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


# The empty database a run leaves on a server it did not start, for the next run
# (harness/sql/databases.py, SPARE_NAME): there on purpose, not left behind.
SPARE_SUFFIX = "_spare"


def postgres_databases(url: str, prefix: str = "", *, spares: bool = False) -> set[str]:
    """Names of the databases on the server at `url` that start with `prefix`; spare
    databases only when asked for (a run leaves one after it has exited)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        )
        names = {row[0] for row in rows}
    return names if spares else {n for n in names if not n.endswith(SPARE_SUFFIX)}


def database_oid(url: str, name: str) -> int | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", [name]).fetchone()
        return int(row[0]) if row else None


def spares_being_created(url: str) -> int:
    """CREATE DATABASE statements of spares that the server is still running."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'",
            [f'CREATE DATABASE "test%{SPARE_SUFFIX}" %'],
        ).fetchone()
        return int(row[0]) if row else 0


def drop_postgres_databases(url: str, prefix: str) -> None:
    """Drop the databases named `prefix...`: what a killed earlier run of these tests left."""
    with psycopg.connect(url, autocommit=True) as conn:
        for name in postgres_databases(url, prefix, spares=True):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def wait_for_spares(url: str, timeout: float = 10.0) -> None:
    """Until the server has finished creating the spares that runs left it making."""
    deadline = time.monotonic() + timeout
    while spares_being_created(url) and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for_database(
    url: str, name: str, *, not_oid: int | None = None, timeout: float = 10.0
) -> int | None:
    """The oid of `name` once it exists (and is not `not_oid`); None after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        oid = database_oid(url, name)
        if (oid is not None and oid != not_oid) or time.monotonic() > deadline:
            return oid if oid != not_oid else None
        time.sleep(0.05)


def spare_databases(url: str) -> set[str]:
    return {
        name
        for name in postgres_databases(url, "test_", spares=True)
        if name.endswith(SPARE_SUFFIX)
    }


def drop_spares_made_since(url: str, before: set[str]) -> None:
    """Drop the spare databases these tests' generated suites left (those of
    projects that exist only in pytest's temporary folders)."""
    wait_for_spares(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for name in spare_databases(url) - before:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def run_state_entries() -> set[Path]:
    """Run folders and kept-container records of generated-suite runs on this machine
    (every user's; pytest's temporary folders hold the projects, not these)."""
    root = Path(tempfile.gettempdir())
    runs = set(root.glob("integration-runs-of-*/*"))
    return runs | set(root.glob("integration-runs-of-*/kept-containers/*"))


def remove_run_state_made_since(before: set[Path]) -> list[Path]:
    """Remove what these tests' runs left for a next run that never comes (a killed
    run's folder, for the next run to sweep; the record of a kept container a test
    removed), unless its owner process still runs. Returns what was removed."""
    removed = []
    for entry in sorted(run_state_entries() - before, reverse=True):
        if entry.name == "kept-containers" or _owner_alive(entry):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _owner_alive(folder: Path) -> bool:
    try:
        os.kill(int((folder / "owner.pid").read_text()), 0)
    except (OSError, ValueError):
        return False  # no pid file (a record, a finished run), or no such process
    return True


def run_state_folders(project: str) -> list[Path]:
    """State folders of `project`'s generated-suite runs on this machine."""
    found = []
    for folder in Path(tempfile.gettempdir()).glob("integration-runs-of-*/*"):
        described = folder / "run.json"
        if described.exists() and f'"project": "{project}"' in described.read_text():
            found.append(folder)
    return sorted(found)


def _state_root() -> Path:
    return Path(tempfile.gettempdir()) / f"integration-runs-of-{os.getuid()}"


class RunWatch:
    """The run ids of `project`'s generated-suite runs, noted while they go on.

    A run's names on a shared server (Redis keys `it:<run>:...`, queues and
    exchanges `it.<run>....`, databases `test_<project>_<run>_...`) carry its run
    id, and its state folder says which project it is (run.json, written as the run
    starts, removed as it ends). With a project name of its own, a test counts only
    what its own runs left, whatever runs beside it on the same servers.
    """

    def __init__(self, project: str, interval: float = 0.05, root: Path | None = None) -> None:
        self.project = project
        self.interval = interval
        self.root = root or _state_root()
        self.run_ids: set[str] = set()
        self._seen: set[str] = set()  # folders whose run.json was read, any project
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def look(self) -> None:
        for folder in self.root.glob("*"):
            if folder.name in self._seen:
                continue
            try:
                described = json.loads((folder / "run.json").read_text())
            except (OSError, ValueError):
                continue  # not a run folder, or run.json not written yet
            self._seen.add(folder.name)
            if described.get("project") == self.project:
                self.run_ids.add(folder.name)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.look()

    def __enter__(self) -> RunWatch:
        self.look()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.look()

    def names_of_runs(self, names: Iterable[str]) -> list[str]:
        """Those of `names` that carry the run id of one of the watched runs."""
        assert self.run_ids, f"no run of project {self.project!r} was seen: nothing to check"
        return sorted(n for n in names if any(run_id in n for run_id in self.run_ids))
