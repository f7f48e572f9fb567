"""Alembic, pointed only at the test database.

The harness hands Alembic an open connection to the test database, as Alembic's
cookbook recipe "Sharing a Connection across one or more programmatic migration
commands" does (`config.attributes["connection"]`), and sets `sqlalchemy.url` to the
same database. Many apps' env.py ignore both and connect to the URL of the app's own
settings: while migrations run, a SQLAlchemy `do_connect` listener on every Engine
refuses any connection to another database, before it is made, and says what to
change in env.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.engine import URL

from ..endpoints import masked_url
from ..errors import IntegrationSetupError, UnsafeTargetError

if TYPE_CHECKING:
    from alembic.config import Config

ENV_PY_FIX = (
    "Make env.py use the connection it is given, e.g. in run_migrations_online():\n"
    '    connectable = config.attributes.get("connection")\n'
    "    if connectable is None:\n"
    "        connectable = engine_from_config(...)  # what env.py does today\n"
    "and pass it to context.configure(connection=...)."
)


def alembic_config(ini_path: Path) -> Config:
    from alembic.config import Config

    if not ini_path.is_file():
        raise IntegrationSetupError(
            f"tests/integration/schema.py names ALEMBIC_INI={ini_path}, "
            "which does not exist"
        )
    return Config(str(ini_path))


def migration_files(ini_path: Path) -> Iterator[tuple[Path, Path]]:
    """(folder, file) for env.py and every revision, wherever its version folder is."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(ini_path))
    root = Path(scripts.dir)
    files = {root / "env.py"} | {
        Path(revision.path) for revision in scripts.walk_revisions() if revision.path
    }
    for path in sorted(files):
        if path.exists():
            yield (root if path.is_relative_to(root) else path.parent), path


def upgrade(ini_path: Path, engine: Engine, revision: str = "head") -> None:
    """`alembic upgrade <revision>` on the test database of `engine`, nowhere else."""
    from alembic import command

    config = alembic_config(ini_path)
    # configparser treats % specially; a password may contain one.
    rendered = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    with only_connections_to(engine.url), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    _ensure_migrated(engine)


def downgrade(ini_path: Path, engine: Engine, revision: str = "base") -> None:
    """`alembic downgrade <revision>` on the test database of `engine` only."""
    from alembic import command

    config = alembic_config(ini_path)
    rendered = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    config.set_main_option("sqlalchemy.url", rendered)
    with only_connections_to(engine.url), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def only_connections_to(allowed: URL) -> Iterator[None]:
    """Refuse any connection that is not to `allowed`: new ones before they are made
    (do_connect), and those an engine already holds in its pool (engine_connect)."""

    def refuse_new(
        dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]
    ) -> None:
        del dialect, conn_rec, cargs
        if not _same_database(cparams, allowed):
            raise _refusal(_describe(cparams), allowed)

    def refuse_pooled(connection: Any) -> None:
        url: URL = connection.engine.url
        target = {"dbname": url.database, "host": url.host, "port": url.port}
        if not _same_database(target, allowed):
            connection.close()
            raise _refusal(_describe(target), allowed)

    event.listen(Engine, "do_connect", refuse_new)
    event.listen(Engine, "engine_connect", refuse_pooled)
    try:
        yield
    finally:
        event.remove(Engine, "do_connect", refuse_new)
        event.remove(Engine, "engine_connect", refuse_pooled)


def _refusal(target: str, allowed: URL) -> UnsafeTargetError:
    return UnsafeTargetError(
        f"Refusing a connection to {target} while running Alembic migrations for "
        f"the test database {masked_url(str(allowed))}: your env.py connects on "
        f"its own instead of using the connection it is given.\n{ENV_PY_FIX}"
    )


def _same_database(cparams: dict[str, Any], allowed: URL) -> bool:
    database = cparams.get("dbname") or cparams.get("database") or cparams.get("db")
    host = str(cparams.get("host") or "")
    port = cparams.get("port")
    return (
        database == allowed.database
        and host in (allowed.host or "", "")
        and (port is None or allowed.port is None or int(port) == allowed.port)
    )


def _describe(cparams: dict[str, Any]) -> str:
    database = cparams.get("dbname") or cparams.get("database") or cparams.get("db")
    return f"database {database!r} on {cparams.get('host') or 'a local socket'}"


def _ensure_migrated(engine: Engine) -> None:
    """An env.py that used neither the connection nor sqlalchemy.url: say so."""
    with engine.connect() as connection:
        migrated = inspect(connection).has_table("alembic_version")
    if not migrated:
        raise IntegrationSetupError(
            "alembic upgrade left the test database without alembic_version: "
            f"env.py ran its migrations somewhere else.\n{ENV_PY_FIX}"
        )
