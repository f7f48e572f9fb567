"""The samples' Alembic history, checked the way yours is (test_migrations.py in
tests/integration, once schema.py names your ALEMBIC_INI).

Each check that needs a database gets a new, empty one, dropped after it: the checks
never touch the worker's database, so they run alongside everything else under -n.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from ...harness.sql.migration_checks import (
    assert_models_match_migrations,
    assert_round_trip,
    assert_single_head,
    assert_upgrades_from_empty,
    empty_database,
)
from ..models import SampleBase

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
# What env.py compares the database with; yours imports its models itself.
ENV_PY = {"target_metadata": SampleBase.metadata}


@pytest.fixture
def empty_db(database_service: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database of this test's own, with nothing in it yet."""
    with empty_database(request, database_service) as engine:
        yield engine


def test_the_history_has_one_head() -> None:
    # Two migrations with the same parent would need `alembic merge heads`
    assert_single_head(ALEMBIC_INI)


def test_migrations_build_the_schema_from_nothing(empty_db: Engine) -> None:
    # Given an empty database; When it is upgraded to head
    assert_upgrades_from_empty(ALEMBIC_INI, empty_db, attributes=ENV_PY)

    # Then the tables are there
    tables = set(inspect(empty_db).get_table_names())
    assert {"sample_users", "sample_orders"} <= tables


def test_every_downgrade_undoes_its_upgrade(empty_db: Engine) -> None:
    # Given an empty database; When each revision is upgraded, downgraded and
    # upgraded again; Then each downgrade left the schema as it found it
    assert_round_trip(ALEMBIC_INI, empty_db, attributes=ENV_PY)


def test_the_models_match_the_migrations(empty_db: Engine) -> None:
    # Given the schema the migrations build; When autogenerate compares it with the
    # models; Then it finds nothing to write: no model change lacks its migration
    assert_models_match_migrations(ALEMBIC_INI, empty_db, attributes=ENV_PY)
