"""Where the template database's schema comes from: SQLAlchemy metadata or Alembic.

tests/integration/schema.py (yours to edit) names it; code that ships its own tables
(the samples) adds them with `register_metadata`, whichever builds the rest: with
ALEMBIC_INI, `alembic upgrade head` builds the app's tables and the registered ones
that no migration creates join them (Alembic never sees them: they are not the app's,
so the model check of test_migrations.py does not compare them). The fingerprint
names the template database, so it changes whenever the schema would: a changed
model, a new migration, changed reference data.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from ..errors import IntegrationSetupError
from ..run_state import SUITE_DIR

SCHEMA_FILE = SUITE_DIR / "schema.py"
ReferenceData = Callable[[Connection], None]
_registered: list[MetaData] = []
# inspect.getsource of a function defined in a REPL or a C extension.
_NO_SOURCE = (OSError, TypeError)


def register_metadata(metadata: MetaData) -> None:
    """Add tables to every test database (next to those schema.py names)."""
    if all(metadata is not known for known in _registered):
        _registered.append(metadata)


class SchemaSource(Protocol):
    def fingerprint(self, dialect: Dialect) -> str:
        """12 hex characters that change whenever the schema would."""
        ...

    def build(self, engine: Engine) -> None:
        """Create the schema (and reference data) in the empty database of `engine`."""
        ...


class MetadataSchema:
    """`metadata.create_all()` per MetaData; fingerprint from the DDL it would run."""

    def __init__(
        self, metadatas: Sequence[MetaData], reference_data: ReferenceData | None = None
    ) -> None:
        self.metadatas = list(metadatas)
        self.reference_data = reference_data

    def fingerprint(self, dialect: Dialect) -> str:
        digest = hashlib.sha256(b"metadata")
        for metadata in self.metadatas:
            for table in metadata.sorted_tables:
                digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
                # Enum values and the like live in column types, not always in DDL.
                digest.update(repr([column.type for column in table.columns]).encode())
                for index in sorted(table.indexes, key=lambda index: index.name or ""):
                    digest.update(
                        str(CreateIndex(index).compile(dialect=dialect)).encode()
                    )
        digest.update(_source_of(self.reference_data))
        return digest.hexdigest()[:12]

    def build(self, engine: Engine) -> None:
        with engine.begin() as connection:
            self.build_on(connection)

    def build_on(self, connection: Connection) -> None:
        """The tables that are not there yet, then the reference data."""
        for metadata in self.metadatas:
            metadata.create_all(connection)
        if self.reference_data is not None:
            self.reference_data(connection)


class AlembicSchema:
    """`alembic upgrade head`, then the registered tables the migrations did not
    create; fingerprint from every migration folder, env.py and those tables."""

    def __init__(
        self,
        ini_path: Path,
        reference_data: ReferenceData | None = None,
        registered: Sequence[MetaData] = (),
    ) -> None:
        self.ini_path = ini_path
        self.reference_data = reference_data
        # Not the app's: tables of code in the suite (the samples', test-only ones).
        self.registered = MetadataSchema(registered)

    def fingerprint(self, dialect: Dialect) -> str:
        # The migrations decide their DDL whatever the server; the dialect is for
        # the registered tables.
        from .migrations import migration_files

        digest = hashlib.sha256(b"alembic")
        for root, path in migration_files(self.ini_path):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
        if self.registered.metadatas:  # without, the name stays what it was
            digest.update(self.registered.fingerprint(dialect).encode())
        digest.update(_source_of(self.reference_data))
        return digest.hexdigest()[:12]

    def build(self, engine: Engine) -> None:
        from .migrations import upgrade

        upgrade(self.ini_path, engine, "head")
        with engine.begin() as connection:
            # create_all skips a table that exists: the migrations' version wins.
            self.registered.build_on(connection)
            if self.reference_data is not None:
                self.reference_data(connection)


def schema_from_project() -> SchemaSource:
    """What tests/integration/schema.py says, plus the tables code registered.

    With ALEMBIC_INI the migrations alone build the app's tables (schema_metadata()
    is not used: a model without its migration fails the tests, as it would fail in
    production); the registered tables are created next to them.
    """
    schema = _import_schema_module()
    reference_data: ReferenceData | None = getattr(schema, "reference_data", None)
    alembic_ini = getattr(schema, "ALEMBIC_INI", None)
    if alembic_ini is not None:
        return AlembicSchema(Path(alembic_ini), reference_data, _registered)
    metadatas = _distinct([*schema.schema_metadata(), *_registered])
    return MetadataSchema(metadatas, reference_data)


def project_config_factory() -> Callable[[Path, str], Any] | None:
    """schema.py's `alembic_config(ini_path, url)`, if it has one: the Alembic Config
    an env.py that expects its framework's own class needs (README.md: Alembic)."""
    factory: Callable[[Path, str], Any] | None = getattr(
        _import_schema_module(), "alembic_config", None
    )
    return factory


def _distinct(metadatas: Sequence[MetaData]) -> list[MetaData]:
    """Each MetaData once: schema.py may name one that code registered too."""
    distinct: list[MetaData] = []
    for metadata in metadatas:
        if all(metadata is not known for known in distinct):
            distinct.append(metadata)
    return distinct


def _import_schema_module() -> ModuleType:
    try:
        from ... import schema
    except ImportError as exc:
        if not SCHEMA_FILE.exists():
            raise IntegrationSetupError(
                f"{SCHEMA_FILE} is missing: it says where the test database's tables "
                "come from. Run `copier recopy` or create it with a "
                "`schema_metadata()` function returning your MetaData objects."
            ) from None
        raise IntegrationSetupError(
            f"{SCHEMA_FILE} could not be imported ({type(exc).__name__}: {exc}). "
            "Fix the import there: it should import your application's models "
            "(or name ALEMBIC_INI); a deleted module it still imports is the usual "
            "cause."
        ) from exc
    return schema


def _source_of(function: Callable[..., object] | None) -> bytes:
    """The code of reference data: a change to it must rebuild the template."""
    if function is None:
        return b""
    try:
        return inspect.getsource(function).encode()
    except _NO_SOURCE:
        return repr(function).encode()
