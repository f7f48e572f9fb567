"""Scaling with xdist against its control, and what each isolation strategy costs.

    uv run python benchmarks/scaling.py [--quick] [--tests 1000] [--rounds 3]
        [--parts scaling strategies clone] [--candidate PATH]

Part 1, scaling (issue 16, 4). N tests that do realistic work through the samples'
repositories (add a user, place an order, look the user up by email, sum the
orders, count the users: two writes that commit, three queries), run with -n 1 and
-n 2 against the same PostgreSQL (IT_POSTGRES_URL):

  generated rollback / truncate / none   the generated suite (none: sessions on
                                          postgres_engine that commit for real)
  control rollback / delete / none       bare pytest-xdist with the recipe conftest
                                          (benchmarks/recipe.py): the same bodies,
                                          a database per worker, the same three modes
  pytest-postgresql                       its per-test `postgresql` fixture (a
                                          database per test), the same bodies

`--candidate PATH` renders a second template (a proposed change) and runs its
rollback / truncate / none beside the others, in the same rounds.

For each: wall time at -n 1 and -n 2 (medians of --rounds alternating rounds), the
speed-up -n 1 / -n 2, that speed-up over its control's (the bar: >= 0.9 for
rollback and truncate/delete), and the median per-test time inside the workers
(setup + call + teardown) with its overhead over `none` (the bar for rollback:
<= 0.5 ms); and CPU time at -n 1 over the control's (median of per-round ratios),
the steadier reading on a machine whose server latency moves from run to run.

Part 2, strategies on two databases (issue 14). The generated suite for postgres
and mysql (MariaDB here), small tests (insert, commit, read back) under rollback,
truncate, fresh and none, -n 0: the median per-test cost of each strategy on each
database, side by side. Then MySQL's clone (replaying SHOW CREATE TABLE, then
INSERT ... SELECT) against create_all() into an empty database, per clone, for the
samples' schema and for 20 tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import _bench as bench
from _bench import Result, Setup
from recipe import RECIPE_REQUIREMENTS, make_recipe_project

SPEEDUP_BAR = 0.9
ROLLBACK_OVERHEAD_BAR_MS = 0.5

WORK_TESTS = """
import os

import pytest

pytestmark = [{marks}]


@pytest.mark.parametrize("n", range(int(os.environ["BENCH_N"])))
def test_work(users, orders, n):
    email = f"user{{n}}@example.test"
    user = users.add(email, display_name="Ada")
    orders.place(user.id, 100 + n)
    assert users.get_by_email(email).id == user.id
    assert orders.total_for(user.id) == 100 + n
    assert users.count() {count_check}
"""

# `none` in the generated suite: the repositories on sessions that commit for real.
# The samples' repositories on the generated suite's sessions (work/), or on sessions
# of postgres_engine that commit for real (work_none/: no isolation at all).
WORK_CONFTEST = """
import pytest
from sqlalchemy.orm import Session

from ..samples.repository import OrderRepository, UserRepository


@pytest.fixture
def session_under_test({session_fixture}):
    {session_body}


@pytest.fixture
def users(session_under_test):
    return UserRepository(session_under_test)


@pytest.fixture
def orders(session_under_test):
    return OrderRepository(session_under_test)
"""
ISOLATED_SESSION = ("db_session", "return db_session")
PLAIN_SESSION = (
    "postgres_engine",
    "with Session(postgres_engine) as session:\n        yield session",
)
WORK_SCHEMA = """
from sqlalchemy import MetaData

from .samples.models import SampleBase


def schema_metadata() -> list[MetaData]:
    return [SampleBase.metadata]


ALEMBIC_INI = None
"""

PYTEST_POSTGRESQL_CONFTEST = """
import os
from urllib.parse import urlsplit

import pytest
from pytest_postgresql import factories
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from .models import SampleBase
from .repository import OrderRepository, UserRepository

url = urlsplit(os.environ["RECIPE_DATABASE_URL"])


def load(host, port, user, dbname, password, **_):
    engine = create_engine(
        f"postgresql+psycopg://{user}:{password or ''}@{host}:{port}/{dbname}"
    )
    SampleBase.metadata.create_all(engine)
    engine.dispose()


postgresql_noproc = factories.postgresql_noproc(
    host=url.hostname, port=url.port, user=url.username, password=url.password or None,
    dbname="test_bench_pgpg", load=[load],
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.fixture
def db_session(postgresql):
    engine = create_engine("postgresql+psycopg://", creator=lambda: postgresql,
                           poolclass=StaticPool)
    with Session(engine) as session:
        yield session


@pytest.fixture
def users(db_session):
    return UserRepository(db_session)


@pytest.fixture
def orders(db_session):
    return OrderRepository(db_session)
"""

STRATEGY_TESTS = """
import os

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.isolation("{strategy}")


@pytest.fixture
def database_service():
    return os.environ["BENCH_DB"]


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(db_session, value):
    db_session.execute(text("INSERT INTO bench_items (value) VALUES (:v)"), {{"v": value}})
    db_session.commit()
    read = db_session.execute(
        text("SELECT value FROM bench_items WHERE value = :v"), {{"v": value}}
    ).scalar_one()
    assert read == value
"""

STRATEGY_NONE_TESTS = """
import os

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(request, value):
    engine = request.getfixturevalue(os.environ["BENCH_DB"] + "_engine")
    with Session(engine) as db_session:
        db_session.execute(text("INSERT INTO bench_items (value) VALUES (:v)"), {"v": value})
        db_session.commit()
        read = db_session.execute(
            text("SELECT value FROM bench_items WHERE value = :v LIMIT 1"), {"v": value}
        ).scalar()
        assert read == value
"""

BENCH_TABLE = """
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

# Run inside the rendered suite's virtualenv: the harness's own MySQL clone against
# create_all() into an empty database, alternating, dropped after each.
CLONE_SCRIPT = """
import inspect, json, os, shutil, statistics, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table
from integration.harness.catalog import SPECS as SERVICES
from integration.harness.endpoints import ServiceEndpoint
from integration.harness.run_state import RunState
from integration.harness.settings import RunSettings
from integration.harness.mysql.dialect import MYSQL_DIALECT
from integration.harness.sql.databases import ensure_template, drop_run_databases
from integration.harness.sql.schema_source import MetadataSchema
from integration.harness.sql.server import DatabaseServer
from integration.samples.models import SampleBase

settings = RunSettings("external", False, False, False, 90.0, 30.0, 10.0)
endpoint = ServiceEndpoint("mysql", "external", os.environ["IT_MYSQL_URL"])
server = DatabaseServer(MYSQL_DIALECT, endpoint, settings, url_env="IT_MYSQL_URL")
run = RunState("c0ffee000000", "main", is_owner=True)
run.directory.mkdir(parents=True, exist_ok=True)
wide = MetaData()
for i in range(20):
    Table(f"t{i}", wide, Column("id", Integer, primary_key=True),
          Column("parent", Integer, *([ForeignKey(f"t{i - 1}.id")] if i else [])),
          Column("name", String(50), index=True))
result = {}
try:
    for index, (label, metadata) in enumerate(
        (("samples (2 tables)", SampleBase.metadata), ("20 tables", wide))
    ):
        schema = MetadataSchema([metadata])
        # A scratch build database of its own per schema: the dialect caches the DDL
        # of a database by name for the life of the process.
        run = RunState("c0ffee000000", f"s{index}", is_owner=True)
        # The harness's own functions; their signatures move as the harness does.
        keyword = {"keep": False} if "keep" in inspect.signature(ensure_template).parameters else {}
        template = ensure_template(server, schema, run, **keyword)
        times = {"clone (replay DDL + INSERT SELECT)": [], "create_all() into a new database": []}
        for i in range(int(sys.argv[2])):
            name = f"test_bench_c0ffee000000_clone{i}"
            started = time.perf_counter()
            server.clone(template, name)
            times["clone (replay DDL + INSERT SELECT)"].append(time.perf_counter() - started)
            server.drop(name)
            started = time.perf_counter()
            server.create(name)
            engine = server.engine_for(name, pooled=False)
            schema.build(engine)
            engine.dispose()
            times["create_all() into a new database"].append(time.perf_counter() - started)
            server.drop(name)
        result[label] = {k: statistics.median(v) * 1000 for k, v in times.items()}
        server.drop(template)
finally:
    keyword = {"keep": False} if "keep" in inspect.signature(drop_run_databases).parameters else {}
    drop_run_databases(server, run, **keyword)
    server.dispose()
    shutil.rmtree(run.directory, ignore_errors=True)
print(json.dumps(result))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 tests, 1 round")
    parser.add_argument("--template", type=Path, default=bench.REPO_ROOT)
    parser.add_argument("--parts", nargs="+", default=["scaling", "strategies", "clone"])
    parser.add_argument(
        "--candidate", type=Path, help="a second template, run alongside (scaling part)"
    )
    args = parser.parse_args()
    if args.quick:
        args.tests, args.rounds = 200, 1
    urls = bench.native_urls()
    try:
        with tempfile.TemporaryDirectory(prefix="scaling-") as scratch_dir:
            scratch = Path(scratch_dir)
            if "scaling" in args.parts:
                scaling(args, scratch, urls)
            if "strategies" in args.parts or "clone" in args.parts:
                strategies(args, scratch, urls)
    finally:
        leftovers = bench.leftover_databases(urls["IT_POSTGRES_URL"], "test_bench")
        leftovers += bench.leftover_databases(urls["IT_POSTGRES_URL"], "test_recipe")
        bench.drop_databases(urls["IT_POSTGRES_URL"], leftovers)
        bench.log(f"clean-up: {len(leftovers)} database(s) dropped")


def timed(setup: Setup, timings: Path, count: int) -> Setup:
    """`setup` that also records the median per-test time (marks['median_ms'])."""
    must = bench.must_pass(count)

    def check(result: Result) -> None:
        must(result)
        result.marks["median_ms"] = bench.median_test_ms(timings)

    setup.env = {**setup.env, "BENCH_TIMINGS": str(timings)}
    setup.argv = [*setup.argv, "-p", "bench_timings"]
    setup.check = check
    return setup


def generated_project(scratch: Path, name: str, template: Path) -> tuple[Path, Path]:
    """A render of `template` with the work tests (work/: rollback and truncate on
    db_session; work_none/: postgres_engine, no isolation), and its virtualenv."""
    project = bench.render_project(scratch / name, template=template)
    suite = project / "tests" / "integration"
    python = bench.make_venv(
        scratch / f"venv-{name}", [], requirement_files=[suite / "requirements.txt"]
    )
    (suite / "schema.py").write_text(WORK_SCHEMA)
    work = suite / "work"
    work.mkdir()
    (work / "__init__.py").write_text("")
    fixture, body = ISOLATED_SESSION
    (work / "conftest.py").write_text(
        WORK_CONFTEST.format(session_fixture=fixture, session_body=body)
    )
    for strategy in ("rollback", "truncate"):
        (work / f"test_{strategy}.py").write_text(
            WORK_TESTS.format(marks=f'pytest.mark.isolation("{strategy}")', count_check="== 1")
        )
    none = suite / "work_none"
    none.mkdir()
    (none / "__init__.py").write_text("")
    fixture, body = PLAIN_SESSION
    (none / "conftest.py").write_text(
        WORK_CONFTEST.format(session_fixture=fixture, session_body=body)
    )
    (none / "test_none.py").write_text(WORK_TESTS.format(marks="", count_check=">= 1"))
    return project, python


def scaling(args: argparse.Namespace, scratch: Path, urls: dict[str, str]) -> None:
    n = args.tests
    plugins = bench.write_timings_plugin(bench.write_timeline_plugin(scratch / "plugins"))
    timings = scratch / "timings.json"
    bench.log("scaling: rendering and installing ...")
    projects = {"generated": generated_project(scratch, "generated", args.template)}
    if args.candidate is not None:
        projects["candidate"] = generated_project(scratch, "candidate", args.candidate)
    project, _ = projects["generated"]
    suite = project / "tests" / "integration"
    samples = suite / "samples"
    control = make_recipe_project(scratch / "control", samples)
    (control / "tests/recipe/test_work.py").write_text(
        WORK_TESTS.format(marks="", count_check=">= 1")
    )
    control_python = bench.make_venv(scratch / "venv-control", RECIPE_REQUIREMENTS)
    anchor = make_recipe_project(scratch / "anchor", samples)
    (anchor / "tests/recipe/conftest.py").write_text(PYTEST_POSTGRESQL_CONFTEST)
    (anchor / "tests/recipe/test_work.py").write_text(
        WORK_TESTS.format(marks="", count_check="== 1")
    )
    anchor_python = bench.make_venv(
        scratch / "venv-anchor", [*RECIPE_REQUIREMENTS, "pytest-postgresql"]
    )
    pg_url = urls["IT_POSTGRES_URL"]
    with bench.scratch_database(pg_url, "test_bench_control") as control_url:

        def generated(name: str, target: str, workers: int) -> Setup:
            project, python = projects[name.split()[0]]
            argv = [
                str(python),
                "-m",
                "pytest",
                target,
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "-n",
                str(workers),
            ]
            env = bench.bench_environment(IT_POSTGRES_URL=pg_url, BENCH_N=str(n))
            return timed(Setup(name, project, argv, env), timings, n)

        def recipe(
            name: str, folder: Path, py: Path, mode: str, workers: int, count: int = n
        ) -> Setup:
            argv = [
                str(py),
                "-m",
                "pytest",
                "tests/recipe/test_work.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(workers),
            ]
            env = bench.bench_environment(
                RECIPE_DATABASE_URL=control_url, RECIPE_ISOLATION=mode, BENCH_N=str(count)
            )
            return timed(Setup(name, folder, argv, env), timings, count)

        # A database per test takes about 0.3 s each here: the anchor runs fewer tests,
        # and its wall time is scaled to N from its start-up and per-test cost.
        slow_n = min(n, 200)
        results: dict[int, dict[str, list[Result]]] = {}
        for workers in (1, 2):
            setups = [
                generated(f"{variant} {strategy}", target, workers)
                for variant in projects
                for strategy, target in (
                    ("rollback", "tests/integration/work/test_rollback.py"),
                    ("truncate", "tests/integration/work/test_truncate.py"),
                    ("none", "tests/integration/work_none"),
                )
            ]
            setups += [
                recipe("control rollback", control, control_python, "rollback", workers),
                recipe("control delete", control, control_python, "delete", workers),
                recipe("control none", control, control_python, "none", workers),
            ]
            bench.log(f"scaling -n {workers}: {args.rounds} round(s)")
            results[workers] = bench.alternate(
                setups, args.rounds, timeline_dir=plugins, log=bench.log
            )
            bench.log(f"scaling -n {workers}: pytest-postgresql, once")
            results[workers] |= bench.alternate(
                [recipe("pytest-postgresql", anchor, anchor_python, "rollback", workers, slow_n)],
                1,
                timeline_dir=plugins,
                warmup=0,
                log=bench.log,
            )
    for workers in (1, 2):
        for run in results[workers].get("pytest-postgresql", []):
            if slow_n < n:  # start-up + N x the median per-test time of its workers
                per_test = run.marks["median_ms"] / 1000 / workers
                run.wall += (n - slow_n) * per_test
    print(f"\n## Scaling: {n} tests of realistic work, -n 1 and -n 2\n")
    if slow_n < n:
        print(f"(pytest-postgresql ran {slow_n} tests; its wall time is scaled to {n})\n")
    print(scaling_table(results))
    print(f"\nserver {pg_url}; machine: {bench.machine_line()}")


CONTROL_OF = {
    f"{variant} {strategy}": f"control {control}"
    for variant in ("generated", "candidate")
    for strategy, control in (("rollback", "rollback"), ("truncate", "delete"), ("none", "none"))
}


def scaling_table(results: dict[int, dict[str, list[Result]]]) -> str:
    def wall(name: str, workers: int) -> float:
        return bench.median([r.wall for r in results[workers].get(name, [])])

    def per_test(name: str, workers: int) -> float:
        runs = results[workers].get(name, [])
        return bench.median_of(runs, lambda r: r.marks.get("median_ms"))

    def cpu_ratio(name: str, control: str | None) -> float:
        """CPU of `name` over its control's at -n 1, the median of per-round ratios:
        steadier than wall time when the server's latency moves from run to run."""
        if control is None:
            return float("nan")
        mine, theirs = results[1].get(name, []), results[1].get(control, [])
        if not mine or len(mine) != len(theirs):
            return float("nan")
        return bench.paired_ratio([r.cpu for r in mine], [r.cpu for r in theirs])

    rows = []
    for name in results[1]:
        speedup = wall(name, 1) / wall(name, 2)
        control = CONTROL_OF.get(name)
        relative = speedup / (wall(control, 1) / wall(control, 2)) if control else float("nan")
        none = f"{name.split()[0]} none" if name in CONTROL_OF else "control none"
        overhead = per_test(name, 1) - per_test(none, 1)
        verdict = ""
        if control and name != none:
            verdict = "ok" if relative >= SPEEDUP_BAR else "under"
        if name in ("generated rollback", "candidate rollback"):
            verdict += "; overhead " + ("ok" if overhead <= ROLLBACK_OVERHEAD_BAR_MS else "over")
        rows.append(
            [
                name,
                wall(name, 1),
                wall(name, 2),
                speedup,
                relative,
                per_test(name, 1),
                per_test(name, 2),
                overhead,
                bench.median([r.cpu for r in results[1].get(name, [])]),
                cpu_ratio(name, control),
                verdict,
            ]
        )
    header = ["variant", "-n 1 s", "-n 2 s", "speed-up", "/ control's", "ms/test -n 1"]
    header += ["ms/test -n 2", "overhead vs none ms (-n 1)", "CPU s -n 1"]
    return bench.markdown_table([*header, "CPU / control's (-n 1)", "verdict"], rows)


def strategies(args: argparse.Namespace, scratch: Path, urls: dict[str, str]) -> None:
    bench.log("strategies: rendering and installing ...")
    project = bench.render_project(
        scratch / "two",
        template=args.template,
        services=("postgres", "mysql"),
        include_samples=True,
    )
    suite = project / "tests" / "integration"
    python = bench.make_venv(
        scratch / "venv-two", [], requirement_files=[suite / "requirements.txt"]
    )
    if "clone" in args.parts:
        clone_table(project, python, urls, 3 if args.quick else 9)
    if "strategies" not in args.parts:
        return
    (suite / "schema.py").write_text(BENCH_TABLE)
    bench_dir = suite / "strategies"
    bench_dir.mkdir()
    (bench_dir / "__init__.py").write_text("")
    for strategy in ("rollback", "truncate", "fresh"):
        (bench_dir / f"test_{strategy}.py").write_text(STRATEGY_TESTS.format(strategy=strategy))
    (bench_dir / "test_none.py").write_text(STRATEGY_NONE_TESTS)
    plugins = bench.write_timings_plugin(scratch / "plugins-two")
    timings = scratch / "timings-two.json"
    sizes = {"rollback": 200, "truncate": 200, "none": 200, "fresh": 30}
    if args.quick:
        sizes = {k: v // 2 for k, v in sizes.items()}
    env_urls = {k: urls[k] for k in ("IT_POSTGRES_URL", "IT_MYSQL_URL")}
    setups = []
    for database in ("postgres", "mysql"):
        for strategy, count in sizes.items():
            argv = [
                str(python),
                "-m",
                "pytest",
                f"tests/integration/strategies/test_{strategy}.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                "-n",
                "0",
            ]
            env = bench.bench_environment(**env_urls, BENCH_DB=database, BENCH_N=str(count))
            setups.append(
                timed(Setup(f"{database} {strategy}", project, argv, env), timings, count)
            )
    rounds = 1 if args.quick else args.rounds
    bench.log(f"strategies: {rounds} round(s)")
    results = bench.alternate(setups, rounds, timeline_dir=plugins, log=bench.log)
    rows = []
    for strategy in sizes:
        cells: list[Any] = [strategy]
        for database in ("postgres", "mysql"):
            runs = results[f"{database} {strategy}"]
            cells.append(bench.median_of(runs, lambda r: r.marks.get("median_ms")))
        cells.append(cells[2] / cells[1] if cells[1] else float("nan"))
        rows.append(cells)
    print("\n## Per-test cost of each isolation strategy, PostgreSQL and MySQL (MariaDB)\n")
    print(
        bench.markdown_table(
            ["strategy", "PostgreSQL ms/test", "MySQL ms/test", "MySQL / PostgreSQL"], rows
        )
    )
    print(
        "\nms/test: median of setup + call + teardown inside the worker, -n 0; "
        f"servers {urls['IT_POSTGRES_URL']}, {urls['IT_MYSQL_URL']}"
    )


def clone_table(project: Path, python: Path, urls: dict[str, str], repeats: int) -> None:
    bench.log("clone: MySQL clone vs create_all ...")
    completed = subprocess.run(
        [str(python), "-c", CLONE_SCRIPT, str(project), str(repeats)],
        capture_output=True,
        text=True,
        check=False,
        env=bench.bench_environment(IT_MYSQL_URL=urls["IT_MYSQL_URL"]),
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stdout + completed.stderr)
    measured: dict[str, dict[str, float]] = json.loads(completed.stdout.splitlines()[-1])
    rows = []
    for schema, times in measured.items():
        replay, create_all = times.values()
        rows.append([schema, replay, create_all, replay / create_all])
    print(f"\n## MySQL: clone a template vs create_all(), ms per database (median of {repeats})\n")
    print(
        bench.markdown_table(
            [
                "schema",
                "clone: replay DDL + INSERT SELECT",
                "create_all() + reference data",
                "clone / create_all",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
