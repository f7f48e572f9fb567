"""Per-test cost of each database isolation strategy, measured side by side in one run.

    uv run python benchmarks/isolation_overhead.py [--sizes 200 1000] [--workers 1 2]

Renders the template into a temporary project, generates N identical small database
tests per variant (insert a row, read it back), runs each with pytest against the
same PostgreSQL server (IT_POSTGRES_URL, or ../shared/native-services/up), and
prints a table. The anchor for "a fresh database per test" is pytest-postgresql's
per-test `postgresql` fixture (noproc mode, template cloning), run the same way.
Two controls with no database at all: `plain` runs the tests under the generated
conftest (the harness loaded, no service used), `bare` in a folder of its own with
no conftest: what pytest and xdist alone cost, and what `-n 2` can gain on this
machine. pytest-postgresql's plugin is switched off except for its own variant:
users of the template do not have it installed.
Each run also records the share of all cores that were busy (/proc/stat), which
says whether `-n 2` was short of CPU.

Fixed costs (interpreter start, collection, xdist start, template database) are
cancelled by measuring two sizes: the cost per test is the slope between them. The
cheap variants differ by fractions of a millisecond per test, so they are run
`--repeat` times, interleaved, and the fastest run of each counts (the least
disturbed by whatever else the machine did).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from generated_suite import clean_environment, uv_executable  # noqa: E402
from machine_services import native_service_urls  # noqa: E402
from rendering import render  # noqa: E402

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

SQL_INSERT = "INSERT INTO bench_items (value) VALUES (:value)"
SQL_COUNT = "SELECT count(*) FROM bench_items WHERE value = :value"

STRATEGY_TESTS = """
import os

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

pytestmark = pytest.mark.isolation("{strategy}")


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(db_session: Session, value: int) -> None:
    db_session.execute(text("{insert}"), {{"value": value}})
    db_session.commit()
    assert db_session.execute(text("{count}"), {{"value": value}}).scalar_one() == 1
"""

NO_ISOLATION_TESTS = """
import os

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(postgres_engine: Engine, value: int) -> None:
    with Session(postgres_engine) as db_session:
        db_session.execute(text("{insert}"), {{"value": value}})
        db_session.commit()
        assert db_session.execute(text("{count}"), {{"value": value}}).scalar_one() >= 1
"""

# The controls: no database at all, so what pytest and xdist themselves cost per test
# (and what -n 2 can gain) on this machine; with the harness loaded (`plain`) or not.
PLAIN_TESTS = """
import os

import pytest


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(value: int) -> None:
    assert value >= 0
"""

PYTEST_POSTGRESQL_CONFTEST = """
import os
from pathlib import Path
from urllib.parse import urlsplit

from pytest_postgresql import factories

url = urlsplit(os.environ["IT_POSTGRES_URL"])
postgresql_noproc = factories.postgresql_noproc(
    host=url.hostname, port=url.port, user=url.username, password=url.password or None,
    dbname="bench_pytest_postgresql", load=[Path(__file__).with_name("schema.sql")],
)
postgresql = factories.postgresql("postgresql_noproc")
"""

PYTEST_POSTGRESQL_TESTS = """
import os

import pytest


@pytest.mark.parametrize("value", range(int(os.environ["BENCH_N"])))
def test_item(postgresql, value: int) -> None:
    with postgresql.cursor() as cursor:
        cursor.execute("INSERT INTO bench_items (value) VALUES (%s)", [value])
        postgresql.commit()
        cursor.execute("SELECT count(*) FROM bench_items WHERE value = %s", [value])
        assert cursor.fetchone()[0] == 1
"""

# Loaded with `-p bench_timings` in the controller, which sees every worker's reports:
# setup + call + teardown per test at full precision (JUnit XML rounds to 1 ms).
TIMINGS_PLUGIN = """
import json
import os
from collections import defaultdict

_seconds = defaultdict(float)


def pytest_runtest_logreport(report):
    _seconds[report.nodeid] += report.duration


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open(os.environ["BENCH_TIMINGS"], "w") as out:
            json.dump(_seconds, out)
"""

VARIANTS = ("bare", "plain", "none", "rollback", "truncate", "fresh", "pytest-postgresql")
CHEAP_VARIANTS = ("bare", "plain", "none", "rollback", "truncate")
TARGET_SPEEDUP = 1.5  # of -n 2 over -n 1, end to end (the bar)


@dataclass(frozen=True)
class Run:
    seconds: float  # wall clock of the whole pytest command
    busy: float  # share of all cores busy meanwhile, 0..1
    median_test_ms: float  # median setup + call + teardown of one test


@dataclass
class Measurement:
    variant: str
    workers: int
    runs: dict[int, Run]  # the fastest run per size

    def keep_fastest(self, size: int, run: Run) -> None:
        if run.seconds < self.runs[size].seconds:
            self.runs[size] = run

    def per_test_ms(self) -> float:
        small, large = min(self.runs), max(self.runs)
        elapsed = self.runs[large].seconds - self.runs[small].seconds
        return elapsed / (large - small) * 1000

    def startup_seconds(self) -> float:
        """The fixed part of a run: wall time extrapolated to zero tests."""
        small = min(self.runs)
        return self.runs[small].seconds - small * self.per_test_ms() / 1000


def build_project(root: Path) -> tuple[Path, Path]:
    project = render(root / "bench", project_name="bench", include_samples=False)
    suite = project / "tests" / "integration"
    (suite / "schema.py").write_text(BENCH_SCHEMA)
    bench = suite / "bench"
    bench.mkdir()
    (bench / "__init__.py").write_text("")
    count = SQL_COUNT
    (bench / "test_plain.py").write_text(PLAIN_TESTS)
    (bench / "test_none.py").write_text(NO_ISOLATION_TESTS.format(insert=SQL_INSERT, count=count))
    for strategy in ("rollback", "truncate", "fresh"):
        (bench / f"test_{strategy}.py").write_text(
            STRATEGY_TESTS.format(strategy=strategy, insert=SQL_INSERT, count=count)
        )
    (project / "bench_timings.py").write_text(TIMINGS_PLUGIN)
    bare = project / "bare"
    bare.mkdir()
    (bare / "conftest.py").write_text("")
    (bare / "test_bare.py").write_text(PLAIN_TESTS)
    anchor = project / "anchor"
    anchor.mkdir()
    (anchor / "conftest.py").write_text(PYTEST_POSTGRESQL_CONFTEST)
    (anchor / "test_pytest_postgresql.py").write_text(PYTEST_POSTGRESQL_TESTS)
    (anchor / "schema.sql").write_text(
        "CREATE TABLE bench_items (id serial PRIMARY KEY, value int NOT NULL);\n"
    )
    venv = root / "venv"
    uv = uv_executable()
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    requirements = suite / "requirements.txt"
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv),
            "-r",
            str(requirements),
            "pytest-postgresql",
        ],
        check=True,
    )
    return project, venv / "bin" / "python"


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat (Linux)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def benchmark_environment(size: int) -> dict[str, str]:
    env = clean_environment(**native_service_urls(), BENCH_N=str(size))
    # Users' Pythons cache bytecode; this machine sets PYTHONDONTWRITEBYTECODE, which
    # would add seconds of compiling to every run's start-up.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)  # next to the source, as users have it
    return env


def median_test_ms(timings: Path) -> float:
    """Per-test time inside the worker, without start-up: immune to the slope's noise."""
    seconds: dict[str, float] = json.loads(timings.read_text())
    return statistics.median(seconds.values()) * 1000


def run_once(project: Path, python: Path, variant: str, size: int, workers: int) -> Run:
    targets = {"pytest-postgresql": "anchor/test_pytest_postgresql.py", "bare": "bare"}
    target = targets.get(variant, f"tests/integration/bench/test_{variant}.py")
    # Each variant loads the plugins its users have: only the anchor has pytest-postgresql.
    anchor_plugin = [] if variant == "pytest-postgresql" else ["-p", "no:pytest_postgresql"]
    timings = project / "bench-timings.json"
    env = {**benchmark_environment(size), "BENCH_TIMINGS": str(timings)}
    command = [
        str(python),
        "-m",
        "pytest",
        target,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-p",
        "bench_timings",
        *anchor_plugin,
        "-n",
        str(workers),
    ]
    busy_before, total_before = cpu_ticks()
    started = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    busy_after, total_after = cpu_ticks()
    if result.returncode != 0 or f"{size} passed" not in result.stdout:
        raise SystemExit(
            f"{variant} N={size} -n {workers} failed:\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    busy = (busy_after - busy_before) / max(total_after - total_before, 1)
    return Run(elapsed, busy, median_test_ms(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[200, 1000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each cheap variant")
    args = parser.parse_args()
    results: dict[tuple[str, int], Measurement] = {}
    with tempfile.TemporaryDirectory() as scratch:
        project, python = build_project(Path(scratch))
        for variant in args.variants:  # warm-up: bytecode caches, as on a user's machine
            run_once(project, python, variant, 10, 1)
        for workers in args.workers:
            for repetition in range(args.repeat):
                for variant in args.variants:
                    if repetition and variant not in CHEAP_VARIANTS:
                        continue
                    runs = {
                        size: run_once(project, python, variant, size, workers)
                        for size in args.sizes
                    }
                    measured = results.setdefault(
                        (variant, workers), Measurement(variant, workers, runs)
                    )
                    for size, run in runs.items():
                        measured.keep_fastest(size, run)
    print_table(list(results.values()), args.sizes)
    print_scaling_table(list(results.values()), max(args.sizes))
    print_cleanup_table(native_service_urls()["IT_POSTGRES_URL"])


def print_table(results: list[Measurement], sizes: list[int]) -> None:
    small, large = sizes
    none = {m.workers: m for m in results if m.variant == "none"}
    rollback = {m.workers: m.per_test_ms() for m in results if m.variant == "rollback"}
    wall_1 = {m.variant: m.runs[large].seconds for m in results if m.workers == 1}
    print(
        f"| variant | -n | N={small} s | N={large} s | ms/test (slope) | overhead vs none "
        f"| median ms in test | overhead vs none (median) | / rollback "
        f"| N={large}: -n 1 / -n | N={large}: cores busy |"
    )
    print("|" + "---|" * 11)
    for m in results:
        runs, per_test = m.runs, m.per_test_ms()
        baseline = none.get(m.workers)
        overhead = per_test - baseline.per_test_ms() if baseline else float("nan")
        median = runs[large].median_test_ms
        median_overhead = median - baseline.runs[large].median_test_ms if baseline else float("nan")
        times_rollback = per_test / rollback.get(m.workers, float("nan"))
        speedup = wall_1.get(m.variant, float("nan")) / runs[large].seconds
        print(
            f"| {m.variant} | {m.workers} | {runs[small].seconds:.2f} | {runs[large].seconds:.2f} "
            f"| {per_test:.2f} | {overhead:+.2f} | {median:.2f} | {median_overhead:+.2f} "
            f"| {times_rollback:.1f} | {speedup:.2f} | {runs[large].busy:.0%} |"
        )
    print(f"\nmachine: {os.cpu_count()} cores; server: {native_service_urls()['IT_POSTGRES_URL']}")


def print_scaling_table(results: list[Measurement], size: int) -> None:
    """Why -n 2 gains what it gains end to end: a fixed start-up plus a cost per test.

    wall(N) = start-up + N x per-test, for -n 1 and -n 2. The speed-up at N tests
    reaches TARGET_SPEEDUP where (S1 + N t1) = TARGET_SPEEDUP (S2 + N t2).
    """
    by_variant: dict[str, dict[int, Measurement]] = {}
    for m in results:
        by_variant.setdefault(m.variant, {})[m.workers] = m
    print(
        f"\n| variant | start-up s -n 1 | start-up s -n 2 | ms/test -n 1 | ms/test -n 2 "
        f"| per-test speed-up | N={size} speed-up | N for {TARGET_SPEEDUP}x |"
    )
    print("|" + "---|" * 8)
    for variant, pair in by_variant.items():
        # The slow variants run once per size and were not linear in N (fresh on
        # 2026-11-22: 200 tests 40.7 s, 1000 tests 265 s): no start-up to read off.
        if variant not in CHEAP_VARIANTS or 1 not in pair or 2 not in pair:
            continue
        s1, s2 = pair[1].startup_seconds(), pair[2].startup_seconds()
        t1, t2 = pair[1].per_test_ms() / 1000, pair[2].per_test_ms() / 1000
        wall = pair[1].runs[size].seconds / pair[2].runs[size].seconds
        print(
            f"| {variant} | {s1:.2f} | {s2:.2f} | {t1 * 1000:.2f} | {t2 * 1000:.2f} "
            f"| {t1 / t2:.2f} | {wall:.2f} | {break_even_tests(s1, s2, t1, t2)} |"
        )


def break_even_tests(s1: float, s2: float, t1: float, t2: float) -> str:
    """The number of tests from which -n 2 is TARGET_SPEEDUP times faster than -n 1."""
    if t1 <= 0 or t2 <= 0:
        return "noise: re-run"  # the slope drowned in run-to-run noise (small sizes)
    gain_per_test = t1 - TARGET_SPEEDUP * t2
    fixed_loss = TARGET_SPEEDUP * s2 - s1
    if gain_per_test <= 0:
        return "never"
    return "any" if fixed_loss <= 0 else f"{fixed_loss / gain_per_test:,.0f}"


def cleanup_cost_ms(conn: psycopg.Connection, tables: list[str], statement: str) -> float:
    """Mean time of `statement` after a test-sized write (3 rows per table)."""
    rounds = 200
    elapsed = 0.0
    for _ in range(rounds):
        for table in tables:
            conn.execute(f"INSERT INTO {table} (value) VALUES (1), (2), (3)")
        started = time.perf_counter()
        conn.execute(statement)
        elapsed += time.perf_counter() - started
    return elapsed / rounds * 1000


def print_cleanup_table(url: str) -> None:
    """Why the truncate strategy empties tables with DELETE: measured, not assumed."""
    scratch = "test_bench_cleanup"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {scratch}")
        admin.execute(f"CREATE DATABASE {scratch}")
    try:
        target = url.rsplit("/", 1)[0] + f"/{scratch}"
        print("\n| tables | DELETE ms | TRUNCATE ms | TRUNCATE / DELETE |\n|---|---|---|---|")
        with psycopg.connect(target, autocommit=True) as conn:
            for count in (1, 5, 20):
                tables = [f"t{count}_{n}" for n in range(count)]
                for table in tables:
                    conn.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, value int)")
                delete = cleanup_cost_ms(
                    conn, tables, "; ".join(f"DELETE FROM {t}" for t in tables)
                )
                truncate = cleanup_cost_ms(conn, tables, f"TRUNCATE {', '.join(tables)}")
                print(f"| {count} | {delete:.2f} | {truncate:.2f} | {truncate / delete:.1f} |")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")


if __name__ == "__main__":
    main()
