"""Where the template database's schema comes from: SQLAlchemy metadata or Alembic.

Chosen in tests/integration/schema.py (yours to edit). The fingerprint names the
template database, so it must change whenever the schema would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import MetaData, NullPool, create_engine, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.schema import CreateIndex, CreateTable

from ..errors import IntegrationSetupError

if TYPE_CHECKING:
    from alembic.config import Config


class SchemaSource(Protocol):
    def fingerprint(self) -> str:
        """12 hex characters that change whenever the schema would."""
        ...

    def build(self, url: URL) -> None:
        """Create the schema in the (empty) database at `url`."""
        ...


class MetadataSchema:
    """`metadata.create_all()` per MetaData; fingerprint from the DDL it would run."""

    def __init__(self, metadatas: Sequence[MetaData]) -> None:
        self.metadatas = list(metadatas)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(b"metadata")
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        for metadata in self.metadatas:
            for table in metadata.sorted_tables:
                digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
                # Enum values and the like live in column types, not always in DDL.
                digest.update(repr([column.type for column in table.columns]).encode())
                for index in sorted(table.indexes, key=lambda index: index.name or ""):
                    digest.update(
                        str(CreateIndex(index).compile(dialect=dialect)).encode()
                    )
        return digest.hexdigest()[:12]

    def build(self, url: URL) -> None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                for metadata in self.metadatas:
                    metadata.create_all(connection)
        finally:
            engine.dispose()


class AlembicSchema:
    """`alembic upgrade head`; fingerprint from the migration scripts and env.py."""

    def __init__(self, ini_path: Path) -> None:
        self.ini_path = ini_path

    def fingerprint(self) -> str:
        config = self._config()
        script_dir = Path(config.get_main_option("script_location") or "alembic")
        if not script_dir.is_absolute():
            script_dir = self.ini_path.parent / script_dir
        digest = hashlib.sha256(b"alembic")
        for path in sorted(script_dir.rglob("*.py")):
            digest.update(str(path.relative_to(script_dir)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:12]

    def build(self, url: URL) -> None:
        from alembic import command

        config = self._config()
        # configparser treats % specially; a password may contain one.
        rendered = url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", rendered)
        command.upgrade(config, "head")
        _ensure_migrated(url)

    def _config(self) -> Config:
        from alembic.config import Config

        if not self.ini_path.is_file():
            raise FileNotFoundError(
                f"tests/integration/schema.py names ALEMBIC_INI={self.ini_path}, "
                "which does not exist"
            )
        return Config(str(self.ini_path))


def _ensure_migrated(url: URL) -> None:
    """An env.py that ignores sqlalchemy.url migrates some other database: say so."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            migrated = inspect(connection).has_table("alembic_version")
    finally:
        engine.dispose()
    if not migrated:
        raise IntegrationSetupError(
            "alembic upgrade head left the test database without alembic_version: "
            "your env.py must connect with config.get_main_option('sqlalchemy.url'), "
            "which the suite sets to the test database."
        )
