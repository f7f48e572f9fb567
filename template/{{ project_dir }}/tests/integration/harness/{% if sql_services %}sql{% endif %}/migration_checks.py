"""Checks of an Alembic history on a real database, with messages that say what to fix.

    assert_single_head(ini)               no unmerged branches: one head
    assert_upgrades_from_empty(ini, db)   base -> head on an empty database
    assert_round_trip(ini, db)            each revision up, down, up again: every
                                          downgrade leaves the schema as it found it
    assert_models_match_migrations(ini, db)
                                          autogenerate finds nothing to write: every
                                          model change has its migration
    empty_database(request, service)      a new, empty database for one check,
                                          dropped after it (safe under -n)

They are pytest-alembic's default tests, run the harness's way: Alembic only ever
reaches the test database (migrations.py). tests/integration/test_migrations.py runs
them on the history schema.py names; samples/migrations/ shows them on a history of
its own. Call them from your own tests for other histories.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import Dialect, Inspector

from ..errors import IntegrationSetupError, UnsafeTargetError
from ..plugin import integration_plugin
from .databases import run_database_name
from .fixtures import SqlLayers
from .migrations import (
    alembic_config,
    autogenerate,
    downgrade,
    is_version_table,
    upgrade,
    version_table,
)

if TYPE_CHECKING:
    # Imported where used: collecting the suite must not pay for Alembic.
    from alembic.script import Script, ScriptDirectory

Attributes = Mapping[str, object] | None
# Per table: what each kind of schema object looks like, as comparable text.
Snapshot = dict[str, dict[str, set[str]]]
# Inspector.get_multi_*: {(schema, table): what it found}
Reflection = Callable[..., Mapping[tuple[str | None, str], Any]]
HARNESS_ERRORS = (IntegrationSetupError, UnsafeTargetError)
_numbers = itertools.count(1)


@contextmanager
def empty_database(request: pytest.FixtureRequest, service: str) -> Iterator[Engine]:
    """A new database on `service`'s server with nothing in it (not a clone of the
    template), named like every database of the run and dropped afterwards."""
    # The same server object as db_session's (sql/fixtures.py: SqlLayers).
    layers: SqlLayers = request.getfixturevalue("sql_layers")
    server = layers.server(service)
    run = integration_plugin(request.config).run
    name = run_database_name(run, f"{run.worker}_m{next(_numbers)}")
    server.create(name)
    engine = server.engine_for(name, pooled=False)
    try:
        yield engine
    finally:
        engine.dispose()
        server.drop(name)


def assert_single_head(ini_path: Path) -> None:
    scripts = _scripts(ini_path)
    heads = [_named(scripts.get_revision(head)) for head in scripts.get_heads()]
    if len(heads) != 1:
        pytest.fail(
            f"{len(heads)} heads in {ini_path}: {', '.join(heads) or 'no revision'}. "
            "Two migrations share a parent: `alembic merge heads` joins them.",
            pytrace=False,
        )


def assert_upgrades_from_empty(
    ini_path: Path, engine: Engine, *, attributes: Attributes = None
) -> None:
    """`alembic upgrade head` on the empty database of `engine` ends at the head."""
    with _step("upgrade from an empty database to head"):
        upgrade(ini_path, engine, "head", attributes=attributes)
    current = _current(engine)
    heads = set(_scripts(ini_path).get_heads())
    if current != heads:
        pytest.fail(
            f"after `alembic upgrade head` the database is at {sorted(current)}, "
            f"not at the head {sorted(heads)}",
            pytrace=False,
        )


def assert_round_trip(
    ini_path: Path, engine: Engine, *, attributes: Attributes = None
) -> None:
    """From base, each revision in turn: upgrade, downgrade (the schema must be as it
    was before the upgrade), upgrade again. Ends at head; names the first revision
    whose downgrade is broken."""
    for script in _from_base_to_head(_scripts(ini_path)):
        name = _named(script)
        before = snapshot(engine)
        with _step(f"upgrade to {name}"):
            upgrade(ini_path, engine, script.revision, attributes=attributes)
        with _step(f"downgrade of {name}"):
            downgrade(ini_path, engine, "-1", attributes=attributes)
        changed = schema_changes(before, snapshot(engine))
        if changed:
            pytest.fail(
                f"the downgrade of {name} does not undo its upgrade; "
                "after upgrade + downgrade:\n"
                + "\n".join(f"    {line}" for line in changed),
                pytrace=False,
            )
        with _step(f"upgrade to {name} after its downgrade"):
            upgrade(ini_path, engine, script.revision, attributes=attributes)


def assert_models_match_migrations(
    ini_path: Path, engine: Engine, *, attributes: Attributes = None
) -> None:
    """Upgrade the empty database of `engine` to head, then let autogenerate compare
    it with the models (env.py's target_metadata): it must find nothing to write."""
    with _step("upgrade to head"):
        upgrade(ini_path, engine, "head", attributes=attributes)
    differences = model_differences(ini_path, engine, attributes=attributes)
    if differences:
        pytest.fail(
            "the models and the migrations differ; a new migration would:\n"
            + "\n".join(f"    {line}" for line in differences)
            + "\nWrite it (`alembic revision --autogenerate -m ...`, then read it) "
            "or change the models back.",
            pytrace=False,
        )


def model_differences(
    ini_path: Path, engine: Engine, *, attributes: Attributes = None
) -> list[str]:
    """What autogenerate would write for the database of `engine`, one line each."""
    return [
        describe(difference)
        for operations in autogenerate(ini_path, engine, attributes=attributes)
        for difference in operations.as_diffs()
    ]


def describe(difference: Any) -> str:
    """One entry of Alembic's comparison (`UpgradeOps.as_diffs()`), in words."""
    if isinstance(difference, list):  # changes to one column come grouped
        return "; ".join(describe(each) for each in difference)
    kind = difference[0]
    if kind in {"add_table", "remove_table"}:
        table = difference[1].name
        return (
            f"create table {table} (in the models, in no migration)"
            if kind == "add_table"
            else f"drop table {table} (in the migrations, not in the models)"
        )
    if kind in {"add_column", "remove_column"}:
        _, _, table, column = difference
        return (
            f"add column {table}.{column.name} {column.type} (in the models only)"
            if kind == "add_column"
            else f"drop column {table}.{column.name} (not in the models)"
        )
    if kind.startswith("modify_"):
        _, _, table, column, _, old, new = difference
        what = kind.removeprefix("modify_")
        return f"change {what} of {table}.{column} from {_shown(old)} to {_shown(new)}"
    if kind.startswith(("add_", "remove_")):
        verb, _, what = kind.partition("_")
        item = difference[1]
        table = getattr(getattr(item, "table", None), "name", "?")
        name = getattr(item, "name", None) or "unnamed"
        return f"{verb} {what} {name} on {table}"
    return repr(difference)


def snapshot(engine: Engine) -> Snapshot:
    """The tables of the default schema and what they hold, as text to compare.

    One reflection query per kind of object for all tables (SQLAlchemy's get_multi_*),
    not one per table: a long history takes a snapshot per revision.
    """
    with engine.connect() as connection:
        inspector = inspect(connection)
        columns = inspector.get_multi_columns()
        tables = [
            name for (_, name), found in columns.items() if not is_version_table(found)
        ]
        if not tables:
            return {}
        return _described(inspector, connection.dialect, tables)


def schema_changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs between two snapshots, one line each."""
    lines = [
        f"table {name} is still there" for name in sorted(after.keys() - before.keys())
    ]
    lines += [f"table {name} is gone" for name in sorted(before.keys() - after.keys())]
    for table in sorted(before.keys() & after.keys()):
        for kind in sorted(before[table].keys() | after[table].keys()):
            was, now = before[table].get(kind, set()), after[table].get(kind, set())
            lines += [
                f"{table}: {kind} {item} is still there" for item in sorted(now - was)
            ]
            lines += [f"{table}: {kind} {item} is gone" for item in sorted(was - now)]
    return lines


def _described(inspector: Inspector, dialect: Dialect, tables: list[str]) -> Snapshot:
    found: Snapshot = {name: {} for name in tables}
    kinds: list[tuple[str, Reflection, Callable[[Any], str]]] = [
        ("column", inspector.get_multi_columns, partial(_column, dialect)),
        ("primary key", inspector.get_multi_pk_constraint, _primary_key),
        ("foreign key", inspector.get_multi_foreign_keys, _foreign_key),
        ("index", inspector.get_multi_indexes, _index),
        ("unique constraint", inspector.get_multi_unique_constraints, _unique),
        ("check constraint", inspector.get_multi_check_constraints, _check),
    ]
    for kind, reflect, text in kinds:
        for (_, table), items in reflect(filter_names=tables).items():
            listed = items if isinstance(items, list) else [items]
            found[table][kind] = {text(item) for item in listed}
    return found


def _column(dialect: Dialect, column: Any) -> str:
    try:
        type_ = column["type"].compile(dialect=dialect)
    except Exception:  # noqa: BLE001 - a type this dialect cannot render
        type_ = repr(column["type"])
    null = "NULL" if column["nullable"] else "NOT NULL"
    default = f" DEFAULT {column['default']}" if column.get("default") else ""
    return f"{column['name']} {type_} {null}{default}"


def _primary_key(primary: Any) -> str:
    return ", ".join(primary["constrained_columns"])


def _foreign_key(fk: Any) -> str:
    columns = ", ".join(fk["constrained_columns"])
    referred = ", ".join(fk["referred_columns"])
    options = f" {fk['options']}" if fk.get("options") else ""
    return f"({columns}) -> {fk['referred_table']}({referred}){options}"


def _index(index: Any) -> str:
    columns = ", ".join(map(str, index["column_names"]))
    return f"{index['name']} ({columns})" + (" unique" if index["unique"] else "")


def _unique(unique: Any) -> str:
    return f"{unique['name']} ({', '.join(unique['column_names'])})"


def _check(check: Any) -> str:
    return f"{check['name']} ({check['sqltext']})"


def _scripts(ini_path: Path) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(ini_path))


def _from_base_to_head(scripts: ScriptDirectory) -> list[Script]:
    return list(reversed(list(scripts.walk_revisions("base", "heads"))))


def _named(script: Script | None) -> str:
    if script is None:
        return "?"
    return f"{script.revision} ({Path(script.path).name})"


def _current(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        found = version_table(connection)
        schema, name = found if found is not None else (None, "alembic_version")
        options = {"version_table": name, "version_table_schema": schema}
        context = MigrationContext.configure(connection, opts=options)
        return set(context.get_current_heads())


def _shown(value: Any) -> str:
    """A type, a default clause or a plain value, as it would read in SQL."""
    value = getattr(value, "arg", value)  # a server default: its SQL
    return str(getattr(value, "text", value))


@contextmanager
def _step(what: str) -> Iterator[None]:
    """A migration that raises fails the check, naming the step; the harness's own
    errors (a refused connection, a missing alembic.ini) pass unchanged."""
    try:
        yield
    except Exception as error:
        if isinstance(error, HARNESS_ERRORS):
            raise
        raise AssertionError(
            f"{what} failed: {type(error).__name__}: {error}"
        ) from error
