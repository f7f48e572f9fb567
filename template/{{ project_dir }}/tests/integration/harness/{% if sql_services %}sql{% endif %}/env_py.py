"""What an Alembic env.py needs for the suite to migrate the test database, and a check
of it. Standard library only: doctor.py loads it before anything is installed.

The harness hands env.py an open connection to the test database in
`config.attributes["connection"]` (Alembic's cookbook: "Sharing a Connection across
one or more programmatic migration commands") and refuses any other connection
while Alembic runs. An env.py that always builds its own engine is refused; the
change is a few lines, shown by the refusal, by doctor.py and after `copier copy`.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ENV_PY_FIX = """\
Make env.py migrate the connection it is handed, as in Alembic's cookbook ("Sharing a
Connection across one or more programmatic migration commands"):

    def run_migrations_online() -> None:
        connection = config.attributes.get("connection")
        if connection is not None:  # handed one: the integration suite's database
            do_run_migrations(connection)
            return
        connectable = engine_from_config(...)  # what env.py does today
        with connectable.connect() as connection:
            do_run_migrations(connection)

    def do_run_migrations(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

An asyncio env.py calls do_run_migrations(connection) the same way when handed one,
and asyncio.run(...) only when not."""

# Reads the connection it is handed: attributes.get("connection") or its [...] form.
_USES_GIVEN_CONNECTION = re.compile(
    r"""attributes\s*(?:\.get\(\s*|\[\s*)["']connection["']"""
)


def env_py_of(ini_path: Path) -> Path | None:
    """The env.py of the script folder an alembic.ini names (a folder path; None for
    a package resource such as `myapp:migrations`, or a missing file)."""
    parser = configparser.ConfigParser(defaults={"here": str(ini_path.parent)})
    try:
        parser.read(ini_path, encoding="utf-8")
        location = parser.get("alembic", "script_location", fallback="")
    except configparser.Error:
        return None
    if not location or ":" in location.replace(str(ini_path.parent), ""):
        return None
    env_py = (ini_path.parent / location / "env.py").resolve()
    return env_py if env_py.is_file() else None


def ignores_given_connection(env_py: Path) -> bool:
    """Whether env.py never reads the connection it is handed (it then connects on
    its own, and the harness refuses that connection)."""
    return _USES_GIVEN_CONNECTION.search(env_py.read_text(errors="replace")) is None
