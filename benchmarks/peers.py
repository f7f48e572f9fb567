"""Whole runs against the peers, each starting its own PostgreSQL container.

    uv run python benchmarks/peers.py [--quick] [--rounds 5] [--tests 200] [--candidate PATH]

The same repository body, N tests that each insert a row, commit, read it back and
count the table, under each setup, every setup starting its own PostgreSQL container
from the same image (IT_POSTGRES_IMAGE of ../shared/offline-docker/up), rollback
isolation where the setup has it:

  generated          this template's suite, IT_PROVIDER=testcontainers
  pytest-databases   pytest-databases' postgres_service (one container per run,
                     a database per xdist worker) + the SAVEPOINT recipe session
  testcontainers     plain testcontainers' PostgresContainer per process + the recipe
  pytest-postgresql  its per-test `postgresql` fixture (a database cloned from a
                     template for every test), noproc against a container per process

Each in its own virtualenv holding what its users install. Medians of --rounds
alternating rounds, for -n 0 and -n 2, of the wall time and of the CPU time of the
pytest process tree (containers' own CPU is not counted); "one test" is a single
selected test, the generated suite's on its second run with --it-keep (the others
cannot keep a container). The bar (issue 16, 1b): the generated suite's whole run at
most as long as pytest-databases', -n 0 and -n 2, and its CPU within 1.1x.

Containers are removed at the end, whatever happened (`docker ps -a` shows none).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _bench as bench
from _bench import Result, Setup

WALL_BAR = 1.0
CPU_BAR = 1.1

BENCH_SCHEMA = """
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class BenchBase(DeclarativeBase):
    pass


class BenchItem(BenchBase):
    __tablename__ = "bench_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int]


def schema_metadata() -> list[MetaData]:
    return [BenchBase.metadata]


ALEMBIC_INI = None
"""

# The body every SQLAlchemy setup runs: insert, commit, read back, count.
SESSION_TESTS = """
import os

import pytest
from sqlalchemy import text


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(db_session, value):
    db_session.execute(text("INSERT INTO bench_items (value) VALUES (:v)"), {"v": value})
    db_session.commit()
    read = db_session.execute(
        text("SELECT value FROM bench_items WHERE value = :v"), {"v": value}
    ).scalar_one()
    assert read == value
    assert db_session.execute(text("SELECT count(*) FROM bench_items")).scalar_one() == 1
"""

PSYCOPG_TESTS = """
import os

import pytest


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(postgresql, value):
    with postgresql.cursor() as cursor:
        cursor.execute("INSERT INTO bench_items (value) VALUES (%s)", [value])
        postgresql.commit()
        cursor.execute("SELECT value FROM bench_items WHERE value = %s", [value])
        assert cursor.fetchone()[0] == value
        cursor.execute("SELECT count(*) FROM bench_items")
        assert cursor.fetchone()[0] == 1
"""

RECIPE_SESSION = '''

class Base(DeclarativeBase):
    pass


class BenchItem(Base):
    __tablename__ = "bench_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int]


@pytest.fixture
def db_session(engine):
    """SQLAlchemy's "Joining a Session into an External Transaction" recipe."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            yield session
        transaction.rollback()
'''

IMPORTS = """
import os

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
"""

PYTEST_DATABASES_CONFTEST = (
    IMPORTS
    + """
pytest_plugins = ["pytest_databases.docker.postgres"]


@pytest.fixture(scope="session")
def postgres_image():
    return os.environ["BENCH_POSTGRES_IMAGE"]


@pytest.fixture(scope="session")
def engine(postgres_service):
    s = postgres_service
    url = f"postgresql+psycopg://{s.user}:{s.password}@{s.host}:{s.port}/{s.database}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()
"""
    + RECIPE_SESSION
)

TESTCONTAINERS_CONFTEST = (
    IMPORTS
    + '''
from testcontainers.community.postgres import PostgresContainer


@pytest.fixture(scope="session")
def engine():
    container = PostgresContainer(
        os.environ["BENCH_POSTGRES_IMAGE"], driver="psycopg",
        labels={"'''
    + bench.BENCH_LABEL
    + """": "peers"},
    )
    with container:
        engine = create_engine(container.get_connection_url())
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
"""
    + RECIPE_SESSION
)

PYTEST_POSTGRESQL_CONFTEST = (
    '''
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from pytest_postgresql import factories
from testcontainers.community.postgres import PostgresContainer


@pytest.fixture(scope="session")
def pg_container():
    container = PostgresContainer(
        os.environ["BENCH_POSTGRES_IMAGE"], driver=None,
        labels={"'''
    + bench.BENCH_LABEL
    + """": "peers"},
    )
    with container:
        yield SimpleNamespace(
            host=container.get_container_host_ip(),
            port=int(container.get_exposed_port(5432)),
            user=container.username,
            password=container.password,
            options="",
            maintenance_dbname="postgres",
            template_dbname="template1",
        )


postgresql_noproc = factories.postgresql_noproc(
    dbname="bench", load=[Path(__file__).with_name("schema.sql")], depends_on="pg_container"
)
postgresql = factories.postgresql("postgresql_noproc")
"""
)

SCHEMA_SQL = "CREATE TABLE bench_items (id serial PRIMARY KEY, value int NOT NULL);\n"
PEER_BASE = ("pytest", "pytest-xdist", "sqlalchemy", "psycopg[binary]")
PEERS = {
    "pytest-databases": (PYTEST_DATABASES_CONFTEST, SESSION_TESTS, ("pytest-databases[postgres]",)),
    "testcontainers": (TESTCONTAINERS_CONFTEST, SESSION_TESTS, ("testcontainers",)),
    "pytest-postgresql": (
        PYTEST_POSTGRESQL_CONFTEST,
        PSYCOPG_TESTS,
        ("pytest-postgresql", "testcontainers"),
    ),
}
SLOW = "pytest-postgresql"  # a database per test: runs once per round at most


def build(scratch: Path, template: Path, name: str) -> tuple[Path, Path]:
    """The generated suite with the body, in a virtualenv of its requirements."""
    project = bench.render_project(scratch / name, template=template, include_samples=False)
    suite = project / "tests" / "integration"
    (suite / "schema.py").write_text(BENCH_SCHEMA)
    (suite / "bench").mkdir()
    (suite / "bench" / "__init__.py").write_text("")
    (suite / "bench" / "test_body.py").write_text(SESSION_TESTS)
    python = bench.make_venv(
        scratch / f"{name}-venv", [], requirement_files=[suite / "requirements.txt"]
    )
    return project, python


def build_peer(scratch: Path, name: str) -> tuple[Path, Path]:
    conftest, tests, extra = PEERS[name]
    folder = scratch / name
    folder.mkdir(parents=True)
    # In the root folder: pytest_plugins is only allowed in a top-level conftest.
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(conftest)
    (folder / "test_body.py").write_text(tests)
    (folder / "schema.sql").write_text(SCHEMA_SQL)
    python = bench.make_venv(scratch / f"{name}-venv", [*PEER_BASE, *extra])
    return folder, python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="2 rounds, 100 tests")
    parser.add_argument("--template", type=Path, default=bench.REPO_ROOT)
    parser.add_argument("--candidate", type=Path, help="a second template, run alongside")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.tests = 2, 100
    if not bench.docker_available():
        raise SystemExit("peers.py needs Docker (../shared/offline-docker/up)")
    image = bench.container_images()["IT_POSTGRES_IMAGE"]
    try:
        with tempfile.TemporaryDirectory(prefix="peers-") as scratch_dir:
            run(args, Path(scratch_dir), image)
    finally:
        removed = bench.remove_benchmark_containers()
        bench.log(f"clean-up: removed {len(removed)} container(s)")


def run(args: argparse.Namespace, scratch: Path, image: str) -> None:
    bench.log("rendering and installing ...")
    suites = {"generated": build(scratch, args.template, "generated")}
    if args.candidate:
        suites["candidate"] = build(scratch, args.candidate, "candidate")
    peers = {name: build_peer(scratch, name) for name in args.peers}
    n = args.tests
    harness_env = {
        "IT_PROVIDER": "testcontainers",
        "IT_POSTGRES_IMAGE": image,
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "BENCH_N": str(n),
    }
    peer_env = {
        "BENCH_POSTGRES_IMAGE": image,
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "BENCH_N": str(n),
    }

    def setup(name: str, workers: int, *, one: bool = False, keep: bool = False) -> Setup:
        if name in suites:
            project, python = suites[name]
            target = "tests/integration/bench/test_body.py"
            env = bench.bench_environment(**harness_env)
        else:
            project, python = peers[name]
            target = "test_body.py"
            env = bench.bench_environment(**peer_env)
        argv = [str(python), "-m", "pytest", target + ("::test_item[0]" if one else "")]
        argv += ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-n", str(workers)]
        if keep:
            argv.append("--it-keep")
        return Setup(name, project, argv, env, check=bench.must_pass(1 if one else n))

    names = [*suites, *peers]
    table: dict[str, dict[str, list[Result]]] = {name: {} for name in names}
    for workers in (0, 2):
        fast = [setup(name, workers) for name in names if name != SLOW]
        bench.log(f"-n {workers}: {args.rounds} rounds of {', '.join(s.name for s in fast)}")
        results = bench.alternate(fast, args.rounds, log=bench.log)
        if SLOW in peers:
            bench.log(f"-n {workers}: {SLOW}, once per round at most")
            slow_rounds = 1 if args.quick else max(1, args.rounds // 2)
            results[SLOW] = bench.alternate(
                [setup(SLOW, workers)], slow_rounds, warmup=0, log=bench.log
            )[SLOW]
        for name, runs in results.items():
            table[name][f"n{workers}"] = runs
    one = [setup(name, 0, one=True, keep=name in suites) for name in names]
    bench.log(f"one test: {args.rounds} rounds")
    for name, runs in bench.alternate(one, args.rounds, log=bench.log).items():
        table[name]["one"] = runs
    print(
        f"\n## Whole runs: {n} tests (insert, commit, read back, count), "
        f"own PostgreSQL container each, medians of {args.rounds} rounds\n"
    )
    print(peer_table(table, names))
    print(verdicts(table, list(suites)))
    print(f"\nimage {image}; machine: {bench.machine_line()}")


def peer_table(table: dict[str, dict[str, list[Result]]], names: list[str]) -> str:
    rows = []
    for name in names:
        runs = table[name]
        rows.append(
            [
                name,
                bench.median([r.wall for r in runs["n0"]]),
                bench.median([r.wall for r in runs["n2"]]),
                bench.median([r.cpu for r in runs["n0"]]),
                bench.median([r.cpu for r in runs["n2"]]),
                bench.median([r.wall for r in runs["one"]]),
                first_test(runs["n0"]),
            ]
        )
    header = ["setup", "-n 0 s", "-n 2 s", "CPU -n 0 s", "CPU -n 2 s", "one test s"]
    return bench.markdown_table([*header, "postgres ready (summary) s"], rows)


def first_test(runs: list[Result]) -> float:
    ready = [bench.parse_harness_summary(r.output).ready.get("postgres") for r in runs]
    return bench.median([value for value in ready if value is not None])


def verdicts(table: dict[str, dict[str, list[Result]]], suites: list[str]) -> str:
    """The generated suite against pytest-databases: wall <= 1.0x, CPU <= 1.1x."""
    if "pytest-databases" not in table:
        return ""
    peer = table["pytest-databases"]
    rows = []
    for name in suites:
        ours = table[name]
        for key, label in (("n0", "-n 0"), ("n2", "-n 2")):
            wall = bench.paired_ratio([r.wall for r in ours[key]], [r.wall for r in peer[key]])
            cpu = bench.paired_ratio([r.cpu for r in ours[key]], [r.cpu for r in peer[key]])
            rows.append(
                [
                    name,
                    label,
                    wall,
                    "ok" if wall <= WALL_BAR else "over",
                    cpu,
                    "ok" if cpu <= CPU_BAR else "over",
                ]
            )
    header = ["suite", "run", "wall / pytest-databases", f"bar {WALL_BAR}"]
    return "\n" + bench.markdown_table([*header, "CPU / pytest-databases", f"bar {CPU_BAR}"], rows)


if __name__ == "__main__":
    main()
