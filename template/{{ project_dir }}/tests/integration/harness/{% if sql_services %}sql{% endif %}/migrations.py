"""Alembic, pointed only at the test database.

The harness hands Alembic an open connection to the test database, as Alembic's
cookbook recipe "Sharing a Connection across one or more programmatic migration
commands" does (`config.attributes["connection"]`), and sets `sqlalchemy.url` to the
same database. Many apps' env.py ignore both and connect to the URL of the app's own
settings: while Alembic runs, a SQLAlchemy `do_connect` listener on every Engine
refuses any connection to another database, before it is made, and says what to
change in env.py.

`migration_files` is what the template database's fingerprint reads: every file of
the script folder and of every version location, so a new or edited migration, in
whichever folder, builds a new template.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event, inspect
from sqlalchemy.engine import URL

from ..endpoints import masked_url
from ..errors import IntegrationSetupError, UnsafeTargetError
from .env_py import ENV_PY_FIX
from .schema_source import project_config_factory

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.operations.ops import MigrationScript, UpgradeOps
    from alembic.runtime.migration import MigrationContext

# schema.py's `alembic_config(ini_path, url)`: the Config (class) the app's env.py
# expects, for the test database at `url`.
ConfigFactory = Callable[[Path, str], "Config"]


def alembic_config(ini_path: Path, url: str = "") -> Config:
    """The Config of `ini_path`: made by schema.py's `alembic_config(ini_path, url)`
    when there is one and a database `url` is known (an env.py that expects its
    framework's own Config class), else Alembic's.

    Relative paths in the ini (`script_location = migrations`, version_locations,
    prepend_sys_path) resolve against the ini's folder, as they do for `alembic`
    run there: the suite runs from another working directory.
    """
    if not ini_path.is_file():
        raise IntegrationSetupError(
            f"tests/integration/schema.py names ALEMBIC_INI={ini_path}, "
            "which does not exist"
        )
    factory = project_config_factory() if url else None
    if factory is None:
        from alembic.config import Config

        config = Config(str(ini_path))
    else:
        config = factory(ini_path, url)
    _resolve_paths(config, ini_path.parent)
    return config


def _resolve_paths(config: Config, folder: Path) -> None:
    script_location = config.get_main_option("script_location")
    if script_location and not _is_resource(script_location):
        config.set_main_option("script_location", str(folder / script_location))
    # Alembic's own splitting (path_separator, or its legacy spaces and commas).
    lists = {
        "version_locations": config.get_version_locations_list(),
        "prepend_sys_path": config.get_prepend_sys_paths_list(),
    }
    if not any(lists.values()):
        return
    config.set_main_option("path_separator", "os")
    for option, paths in lists.items():
        if paths:
            resolved = [p if _is_resource(p) else str(folder / p) for p in paths]
            config.set_main_option(option, os.pathsep.join(resolved))


def _is_resource(location: str) -> bool:
    """`myapp:migrations` (a package resource) or an absolute path: left as it is."""
    return Path(location).is_absolute() or ":" in location


def migration_folders(ini_path: Path) -> list[Path]:
    """The script folder (env.py) and every folder revisions are read from."""
    from alembic.script import ScriptDirectory
    from alembic.util import coerce_resource_to_filename

    scripts = ScriptDirectory.from_config(alembic_config(ini_path))
    root = Path(scripts.dir)
    versions = [
        Path(coerce_resource_to_filename(str(location)))
        for location in scripts.version_locations
    ] or [root / "versions"]
    return [root, *(folder for folder in versions if folder.is_dir())]


def migration_files(ini_path: Path) -> Iterator[tuple[Path, Path]]:
    """(folder, file) for every file of every migration folder: env.py, revisions,
    and whatever they read (helpers, SQL files), wherever the folder is."""
    seen: set[Path] = set()
    for folder in migration_folders(ini_path):
        for path in sorted(folder.rglob("*")):
            if (
                path.is_file()
                and path.suffix not in {".pyc", ".pyo"}
                and not _is_cache(path.relative_to(folder))
                and path.resolve() not in seen
            ):
                seen.add(path.resolve())
                yield folder, path


def _is_cache(relative: Path) -> bool:
    """__pycache__, .mypy_cache and the like: not part of any migration."""
    return any(part == "__pycache__" or part.startswith(".") for part in relative.parts)


def upgrade(
    ini_path: Path,
    engine: Engine,
    revision: str = "head",
    *,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """`alembic upgrade <revision>` on the test database of `engine`, nowhere else.

    `attributes` go to env.py in `config.attributes`, next to the connection.
    """
    from alembic import command

    with on_test_database(ini_path, engine, attributes) as config:
        command.upgrade(config, revision)
    _ensure_migrated(engine)


def downgrade(
    ini_path: Path,
    engine: Engine,
    revision: str = "base",
    *,
    attributes: Mapping[str, object] | None = None,
) -> None:
    """`alembic downgrade <revision>` on the test database of `engine` only."""
    from alembic import command

    with on_test_database(ini_path, engine, attributes) as config:
        command.downgrade(config, revision)


def autogenerate(
    ini_path: Path,
    engine: Engine,
    *,
    attributes: Mapping[str, object] | None = None,
) -> list[UpgradeOps]:
    """What `alembic revision --autogenerate` would write, comparing the database
    of `engine` (at head) with env.py's target_metadata; no file is written.

    It runs through env.py, as pytest-alembic's model check does: env.py's options
    (compare_type, include_object, ...) decide what counts as a difference.
    """
    from alembic import command

    found: list[UpgradeOps] = []

    def capture(
        context: MigrationContext, revision: object, scripts: list[MigrationScript]
    ) -> None:
        del context, revision
        for script in scripts:
            found.extend(ops for ops in script.upgrade_ops_list if not ops.is_empty())
        scripts.clear()  # nothing to write

    with on_test_database(ini_path, engine, attributes) as config:
        command.revision(config, autogenerate=True, process_revision_directives=capture)
    return found


@contextmanager
def on_test_database(
    ini_path: Path, engine: Engine, attributes: Mapping[str, object] | None = None
) -> Iterator[Config]:
    """An Alembic Config whose env.py can reach the database of `engine` only."""
    url = engine.url.render_as_string(hide_password=False)
    config = alembic_config(ini_path, url)
    # configparser treats % specially; a password may contain one.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes.update(attributes or {})
    # Not inside a transaction of ours: env.py's begin_transaction() owns it, so a
    # migration's autocommit_block() (CREATE INDEX CONCURRENTLY) can commit it.
    with only_connections_to(engine.url), engine.connect() as connection:
        config.attributes["connection"] = connection
        try:
            yield config
        except AttributeError as exc:
            _refuse_other_config(config, exc)
            raise
        if connection.in_transaction():  # an env.py without begin_transaction()
            connection.commit()


def _refuse_other_config(config: Config, error: AttributeError) -> None:
    """env.py read an attribute Alembic's Config lacks: it expects its framework's."""
    if f"'{type(config).__name__}' object has no attribute" in str(error):
        raise IntegrationSetupError(
            f"Your env.py expects another Alembic Config ({error}). Define "
            "alembic_config(ini_path, url) in tests/integration/schema.py returning "
            "the Config your env.py expects, built for the test database at url "
            "(README.md: Migrations)."
        ) from error


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

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("do_connect", refuse_new),
        ("engine_connect", refuse_pooled),
    ]
    for name, listener in listeners:
        event.listen(Engine, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.remove(Engine, name, listener)


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


def version_table(connection: Connection) -> tuple[str | None, str] | None:
    """(schema, name) of the table Alembic keeps its revision in, whatever env.py
    calls it (`version_table`, `version_table_schema`): the one table whose only
    column is `version_num`. None before the first migration."""
    inspector = inspect(connection)
    default = inspector.default_schema_name
    for schema in [default, *sorted(set(inspector.get_schema_names()) - {default})]:
        for (_, table), columns in inspector.get_multi_columns(schema=schema).items():
            if is_version_table(columns):
                return (None if schema == default else schema), table
    return None


def is_version_table(columns: Sequence[Mapping[str, Any]]) -> bool:
    """Alembic's bookkeeping table, by its shape: `version_num` and nothing else."""
    return [column["name"] for column in columns] == ["version_num"]


def _ensure_migrated(engine: Engine) -> None:
    """An env.py that used neither the connection nor sqlalchemy.url: say so."""
    with engine.connect() as connection:
        migrated = version_table(connection) is not None
    if not migrated:
        raise IntegrationSetupError(
            "alembic upgrade left the test database without a version table "
            "(alembic_version, or env.py's version_table): env.py ran its migrations "
            f"somewhere else.\n{ENV_PY_FIX}"
        )
