"""Adoption beyond FastAPI (issue 34, item 2): a tiny Litestar app (async and sync
handlers, a lifespan) and a tiny Flask app, each driven in process through
harness/app_clients.py, the way README.md's recipes show, against the test's isolated
PostgreSQL database. Random order on two workers: a row that leaked from one test
would be seen by a test that counts the rows first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite, uv_executable
from rendering import commit_all, render, write_files
from server_state import drop_postgres_databases, postgres_databases

pytestmark = pytest.mark.slow

PROJECT = "webfw"
PREFIX = f"test_{PROJECT}_"
FRAMEWORKS = ("litestar>=2.12,<3", "flask>=3,<4")

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))
"""

LITESTAR_APP = """
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from litestar.datastructures import State
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from notes_app.models import Note


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    app.state.started = True  # what a real app opens here: clients, caches
    yield
    app.state.started = False


@post("/notes")
async def create(data: dict[str, str], state: State) -> dict[str, int]:
    async with state.sessionmaker() as session:
        note = Note(text=data["text"])
        session.add(note)
        await session.commit()
        return {"id": note.id}


@get("/notes/{note_id:int}")
async def read(note_id: int, state: State) -> dict[str, str]:
    async with state.sessionmaker() as session:
        note = await session.get(Note, note_id)
        assert note is not None
        return {"text": note.text}


@get("/count")
async def count(state: State) -> dict[str, int]:
    async with state.sessionmaker() as session:
        return {"count": await session.scalar(select(func.count()).select_from(Note)) or 0}


# Sync handlers (Litestar runs them in a thread), with sync sessions.
@post("/sync/notes", sync_to_thread=True)
def create_sync(data: dict[str, str], state: State) -> dict[str, int]:
    with state.sync_sessionmaker() as session:
        note = Note(text=data["text"])
        session.add(note)
        session.commit()
        return {"id": note.id}


@get("/sync/count", sync_to_thread=True)
def count_sync(state: State) -> dict[str, int]:
    with state.sync_sessionmaker() as session:
        return {"count": session.scalar(select(func.count()).select_from(Note)) or 0}


@get("/started")
async def started(state: State) -> dict[str, bool]:
    return {"started": bool(state.get("started"))}


def create_app(
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    sync_sessionmaker: sessionmaker[Session] | None = None,
) -> Litestar:
    state = State({"sessionmaker": sessionmaker, "sync_sessionmaker": sync_sessionmaker})
    handlers = [create, read, count, create_sync, count_sync, started]
    return Litestar(handlers, state=state, lifespan=[lifespan])
"""

FLASK_APP = """
from flask import Flask, current_app, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notes_app.models import Note


def create_app(sessionmaker: sessionmaker[Session]) -> Flask:
    app = Flask(__name__)
    app.extensions["sessionmaker"] = sessionmaker

    @app.post("/notes")
    def create() -> tuple[dict[str, int], int]:
        with current_app.extensions["sessionmaker"]() as session:
            note = Note(text=request.get_json()["text"])
            session.add(note)
            session.commit()
            return {"id": note.id}, 201

    @app.get("/notes/<int:note_id>")
    def read(note_id: int) -> dict[str, str]:
        with current_app.extensions["sessionmaker"]() as session:
            note = session.get(Note, note_id)
            assert note is not None
            return {"text": note.text}

    @app.get("/count")
    def count() -> dict[str, int]:
        with current_app.extensions["sessionmaker"]() as session:
            return {"count": session.scalar(select(func.count()).select_from(Note)) or 0}

    return app
"""

LITESTAR_TESTS = """
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from notes_app.litestar_app import create_app
from notes_app.models import Note

from .harness.app_clients import asgi_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("text", ["first", "second", "third"])
async def test_a_note_written_through_the_app_is_in_the_tests_database(
    text: str,
    async_db_sessionmaker: async_sessionmaker[AsyncSession],
    async_db_session: AsyncSession,
) -> None:
    app = create_app(sessionmaker=async_db_sessionmaker)
    async with asgi_client(app) as client:
        assert (await client.get("/started")).json() == {"started": True}
        assert (await client.get("/count")).json() == {"count": 0}  # nothing leaked in
        created = await client.post("/notes", json={"text": text})
        assert created.status_code == 201, created.text
        note_id = created.json()["id"]
        assert (await client.get(f"/notes/{note_id}")).json() == {"text": text}
        assert (await client.get("/count")).json() == {"count": 1}
    assert await async_db_session.scalar(select(Note.text)) == text
    assert app.state.started is False  # the lifespan's shutdown ran


@pytest.mark.parametrize("text", ["fourth", "fifth"])
async def test_sync_handlers_use_the_tests_sync_sessions(
    text: str, db_sessionmaker: sessionmaker[Session], db_session: Session
) -> None:
    async with asgi_client(create_app(sync_sessionmaker=db_sessionmaker)) as client:
        assert (await client.get("/sync/count")).json() == {"count": 0}
        created = await client.post("/sync/notes", json={"text": text})
        assert created.status_code == 201, created.text
        assert (await client.get("/sync/count")).json() == {"count": 1}
    assert db_session.scalar(select(Note.text)) == text
"""

FLASK_TESTS = """
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notes_app.flask_app import create_app
from notes_app.models import Note

from .harness.app_clients import wsgi_client


@pytest.mark.parametrize("text", ["first", "second", "third"])
def test_a_note_written_through_the_app_is_in_the_tests_database(
    text: str, db_sessionmaker: sessionmaker[Session], db_session: Session
) -> None:
    with wsgi_client(create_app(db_sessionmaker)) as client:
        assert client.get("/count").json() == {"count": 0}  # nothing leaked in
        created = client.post("/notes", json={"text": text})
        assert created.status_code == 201, created.text
        assert client.get(f"/notes/{created.json()['id']}").json() == {"text": text}
    assert db_session.scalar(select(Note.text)) == text
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, native_urls: dict[str, str]) -> Path:
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    project = render(
        tmp_path_factory.mktemp(PROJECT) / PROJECT,
        project_name=PROJECT,
        services=["postgres"],
        include_samples=False,
        async_tests=True,
    )
    files = {
        "backend/notes_app/__init__.py": "",
        "backend/notes_app/models.py": MODELS,
        "backend/notes_app/litestar_app.py": LITESTAR_APP,
        "backend/notes_app/flask_app.py": FLASK_APP,
        "tests/integration/test_litestar_app.py": LITESTAR_TESTS,
        "tests/integration/test_flask_app.py": FLASK_TESTS,
    }
    write_files(project, files)
    schema = project / "tests/integration/schema.py"
    metadata = "    from notes_app.models import Base\n\n    return [Base.metadata]"
    schema.write_text(schema.read_text().replace("    return []", metadata))
    commit_all(project, "a Litestar app and a Flask app")
    return project


@pytest.fixture(scope="module")
def python(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's requirements and the two frameworks, as the app would have them."""
    venv = tmp_path_factory.mktemp("webfw-venv") / "venv"
    uv = uv_executable()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([uv, "venv", "-q", "--python", version, str(venv)], check=True)
    requirements = project / "tests/integration/requirements.txt"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv), "-r", str(requirements),
         *FRAMEWORKS, "pytest-randomly"],
        check=True,
        timeout=900,
    )  # fmt: skip
    return venv / "bin" / "python"


def test_litestar_and_flask_apps_run_against_the_isolated_database(
    project: Path, python: Path, native_urls: dict[str, str]
) -> None:
    url = native_urls["IT_POSTGRES_URL"]
    environment = clean_environment(IT_POSTGRES_URL=url, PYTHONPATH=str(project / "backend"))
    try:
        result = run_suite(
            project, [str(python), "-m", "pytest"], "-n", "2", "-p", "randomly",
            env=environment,
            paths=("tests/integration/test_litestar_app.py", "tests/integration/test_flask_app.py"),
        )  # fmt: skip
        result.assert_all_passed(at_least=8)
        assert sum("test_litestar_app" in name for name in result.passed) == 5, result.summary()
        assert sum("test_flask_app" in name for name in result.passed) == 3, result.summary()
    finally:
        drop_postgres_databases(url, PREFIX)
    assert postgres_databases(url, PREFIX) == set()
