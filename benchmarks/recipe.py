"""The hand-written alternative the harness is measured against, and its project.

RECIPE_CONFTEST is SQLAlchemy's documented recipe "Joining a Session into an External
Transaction (such as for test suites)" as a developer would write it in a conftest:
one Engine per run, metadata.create_all() once, a SAVEPOINT-joined Session per test
rolled back afterwards. With pytest-xdist each worker gets a database of its own
(created and dropped by the conftest), as any parallel recipe must; with one process
it uses the database of RECIPE_DATABASE_URL as it is, like the docs do.

RECIPE_ISOLATION=delete makes the same conftest commit for real and DELETE every
table after each test (the control for the harness's truncate strategy);
RECIPE_ISOLATION=none commits for real and cleans nothing (the control for no
isolation at all).
"""

from __future__ import annotations

import shutil
from pathlib import Path

RECIPE_CONFTEST = '''\
"""SQLAlchemy's "Joining a Session into an External Transaction" recipe, as a conftest."""

import os

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from .factories import OrderFactory, UserFactory
from .models import SampleBase
from .repository import OrderRepository, UserRepository

ISOLATION = os.environ.get("RECIPE_ISOLATION", "rollback")


@pytest.fixture(scope="session")
def db_engine():
    url = os.environ["RECIPE_DATABASE_URL"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # one database per xdist worker
        own = url.rsplit("/", 1)[0] + f"/test_recipe_{worker}"
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS test_recipe_{worker}")
            admin.execute(f"CREATE DATABASE test_recipe_{worker}")
        url = own
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    SampleBase.metadata.create_all(engine)
    yield engine
    engine.dispose()
    if worker:
        with psycopg.connect(os.environ["RECIPE_DATABASE_URL"], autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS test_recipe_{worker} WITH (FORCE)")


@pytest.fixture
def db_session(db_engine):
    if ISOLATION != "rollback":
        with Session(db_engine) as session:
            yield session
        if ISOLATION == "delete":
            with db_engine.begin() as connection:
                for table in reversed(SampleBase.metadata.sorted_tables):
                    connection.execute(table.delete())
        return
    with db_engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()


@pytest.fixture
def users(db_session):
    return UserRepository(db_session)


@pytest.fixture
def orders(db_session):
    return OrderRepository(db_session)


@pytest.fixture
def user_factory(db_session):
    UserFactory._meta.sqlalchemy_session = db_session
    OrderFactory._meta.sqlalchemy_session = db_session
    return UserFactory
'''

# The samples' factories without the harness: bound to the session by the conftest.
RECIPE_FACTORIES = '''\
"""The sample factories, bound to the test's session by the recipe's fixture."""

from factory.alchemy import SQLAlchemyModelFactory
from factory.declarations import Sequence, SubFactory
from factory.faker import Faker

from .models import SampleOrder, SampleUser


class UserFactory(SQLAlchemyModelFactory):
    class Meta:
        model = SampleUser
        sqlalchemy_session_persistence = "flush"

    email = Sequence(lambda n: f"user{n}@example.test")
    display_name = Faker("first_name")


class OrderFactory(SQLAlchemyModelFactory):
    class Meta:
        model = SampleOrder
        sqlalchemy_session_persistence = "flush"

    user = SubFactory(UserFactory)
    total_cents = Faker("pyint", min_value=0, max_value=10_000)
'''

RECIPE_REQUIREMENTS = ("pytest", "pytest-xdist", "sqlalchemy", "psycopg[binary]", "factory-boy")


def make_recipe_project(
    destination: Path, samples: Path, tests: dict[str, str] | None = None
) -> Path:
    """A folder running the samples' tests (or `tests`) under the recipe conftest.

    `samples` is a rendered tests/integration/samples folder: the models, repositories
    and test modules are the very files the generated suite runs.
    """
    package = destination / "tests" / "recipe"
    package.mkdir(parents=True, exist_ok=True)
    (destination / "pytest.ini").write_text("[pytest]\n")
    (destination / "tests" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    for name in ("models.py", "repository.py", "test_user_repository.py"):
        shutil.copy(samples / name, package / name)
    (package / "factories.py").write_text(RECIPE_FACTORIES)
    (package / "conftest.py").write_text(RECIPE_CONFTEST)
    for name, source in (tests or {}).items():
        (package / name).write_text(source)
    return destination
