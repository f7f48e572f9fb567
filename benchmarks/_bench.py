"""What the benchmarks share: rendering, virtualenvs, timed runs, medians, tables.

Every benchmark here compares setups side by side in one run: each round runs every
setup once, in an order that rotates from round to round, and the tables report
medians and ratios of medians. Absolute seconds drift with whatever else the machine
does; ratios measured in the same rounds do not drift as much. Wall time is the
whole pytest command; CPU is user + system time of pytest and every process it
waited for (xdist workers), from wait4(); servers in containers are not counted.

Python caches bytecode in every run, as on a user's machine (this machine sets
PYTHONDONTWRITEBYTECODE, which would add compile time to every start-up).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

# Containers a benchmark starts itself (the peers' conftests) carry this label; the
# benchmark removes them at the end whatever happened.
BENCH_LABEL = "io.github.copier-integration-tests.benchmark"
# The harness labels its containers with the project name (see harness/janitor.py).
HARNESS_LABEL = "io.github.copier-integration-tests"
PROJECT = "bench"

# Loaded with `-p bench_timeline` in the process under test: when each phase of the
# run started, as wall-clock times the benchmark compares with the moment it spawned
# the process. Each xdist worker writes its own file next to the controller's.
TIMELINE_PLUGIN = """
import json
import os
import time

import pytest

_marks = {"plugin": time.time()}


def pytest_configure(config):
    _marks["configure"] = time.time()


def pytest_collection(session):
    _marks["collection"] = time.time()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    _marks["collected"] = time.time()  # before the harness starts services here


def pytest_runtest_logstart(nodeid, location):
    _marks.setdefault("testloop", time.time())  # the first test starts its setup


def pytest_runtest_logreport(report):
    if report.when == "setup" and "setup_done" not in _marks:
        _marks["setup_done"] = time.time()
    if report.when == "call" and "first_result" not in _marks:
        _marks["first_result"] = time.time()


def pytest_sessionfinish(session):
    _marks["sessionfinish"] = time.time()
    # When each service answered (the harness's endpoints; older trees lack it).
    harness = session.config.pluginmanager.get_plugin("integration-services")
    if harness is not None and getattr(harness.run, "is_owner", False):
        for name, endpoint in harness.run.read_endpoints().items():
            ready_at = getattr(endpoint, "ready_at", None)
            if ready_at and endpoint.usable and not endpoint.reused:
                _marks[f"ready:{name}"] = ready_at


def pytest_unconfigure(config):
    _marks["unconfigure"] = time.time()
    path = os.environ.get("BENCH_TIMELINE")
    if path:
        worker = getattr(config, "workerinput", {}).get("workerid")
        with open(f"{path}.{worker}" if worker else path, "w") as out:
            json.dump(_marks, out)
"""

# Phases of a run, from the timeline marks: (label, from mark, to mark).
PHASES = (
    ("start-up: interpreter, pytest, plugins", "spawn", "plugin"),
    ("conftest, options, configure", "plugin", "collection"),
    ("collection", "collection", "collected"),
    ("collection finish: services start", "collected", "testloop"),
    ("first test: setup (fixtures)", "testloop", "setup_done"),
    ("first test: call", "setup_done", "first_result"),
    ("rest of tests + teardown", "first_result", "sessionfinish"),
    ("session finish (clean-up)", "sessionfinish", "unconfigure"),
    ("exit: unconfigure, interpreter", "unconfigure", "exit"),
)


@dataclass
class Result:
    wall: float
    cpu: float
    returncode: int
    output: str
    marks: dict[str, float] = field(default_factory=dict)

    def phase(self, start: str, end: str) -> float | None:
        if start in self.marks and end in self.marks:
            return self.marks[end] - self.marks[start]
        return None


def read_timeline(controller: Path, spawned: float) -> dict[str, float]:
    """Marks in seconds after spawning; under xdist, the first worker's as `w:<mark>`."""
    marks = {k: v - spawned for k, v in json.loads(controller.read_text()).items()}
    marks["spawn"] = 0.0
    for worker_file in controller.parent.glob(controller.name + ".*"):
        for key, value in json.loads(worker_file.read_text()).items():
            name = f"w:{key}"
            marks[name] = min(marks.get(name, float("inf")), value - spawned)
    return marks


# The same run under xdist: the workers collect, start services and run the tests.
WORKER_PHASES = (
    ("controller start-up", "spawn", "plugin"),
    ("workers start (first worker's plugins loaded)", "plugin", "w:plugin"),
    ("worker conftest, configure", "w:plugin", "w:collection"),
    ("worker collection", "w:collection", "w:collected"),
    ("collection finish: services start", "w:collected", "w:testloop"),
    ("first test: setup (fixtures)", "w:testloop", "w:setup_done"),
    ("first test: call", "w:setup_done", "w:first_result"),
    ("rest of the tests", "w:first_result", "sessionfinish"),
    ("session finish (clean-up)", "sessionfinish", "unconfigure"),
    ("exit", "unconfigure", "exit"),
)


@dataclass
class Setup:
    """One way of running the same tests: a command line in a folder, an environment."""

    name: str
    cwd: Path
    argv: list[str]
    env: dict[str, str]
    # Checked after every run: raise to say the run did not do what was measured.
    check: Callable[[Result], None] | None = None
    # Run before every timed run, untimed (e.g. make sure a kept service exists).
    before: Callable[[], None] | None = None


def bench_environment(**overrides: str) -> dict[str, str]:
    """The machine's environment without the outer run's pytest, IT_* and CI settings."""
    from generated_suite import clean_environment

    env = clean_environment(**overrides)
    # Users cache bytecode next to the source (the template tests' shared cache
    # would be one more thing a run could find warm or cold).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def run_once(setup: Setup, timeline_dir: Path | None = None) -> Result:
    """Run `setup` once: wall clock, CPU of the process tree, output, timeline."""
    if setup.before is not None:
        setup.before()
    env = dict(setup.env)
    timeline = None
    if timeline_dir is not None:
        timeline = timeline_dir / "timeline.json"
        for stale in timeline_dir.glob("timeline.json*"):
            stale.unlink()
        env["BENCH_TIMELINE"] = str(timeline)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(timeline_dir), env.get("PYTHONPATH", "")) if p
        )
    out_path = (timeline_dir or Path("/tmp")) / f"bench-output-{os.getpid()}.txt"
    with out_path.open("w+") as out:
        spawned = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(
            setup.argv, cwd=setup.cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        ended = time.time()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    out_path.unlink(missing_ok=True)
    marks: dict[str, float] = {}
    if timeline is not None and timeline.exists():
        marks = read_timeline(timeline, spawned)
        marks["exit"] = ended - spawned
    result = Result(wall, usage.ru_utime + usage.ru_stime, process.returncode, output, marks)
    if setup.check is not None:
        setup.check(result)
    return result


def alternate(
    setups: Sequence[Setup],
    rounds: int,
    *,
    timeline_dir: Path | None = None,
    warmup: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, list[Result]]:
    """Every setup once per round, in an order that rotates each round; warm-up first."""
    results: dict[str, list[Result]] = {setup.name: [] for setup in setups}
    for _ in range(warmup):
        for setup in setups:
            run_once(setup, timeline_dir)
    for index in range(rounds):
        shift = index % len(setups)
        order = list(setups[shift:]) + list(setups[:shift])
        for setup in order:
            result = run_once(setup, timeline_dir)
            results[setup.name].append(result)
        log(
            f"  round {index + 1}/{rounds}: "
            + ", ".join(f"{s.name} {results[s.name][-1].wall:.2f}s" for s in setups)
        )
    return results


def must_pass(count: int) -> Callable[[Result], None]:
    """A check: pytest exited 0 and reported `count` passed tests."""

    def check(result: Result) -> None:
        if result.returncode != 0 or not re.search(rf"\b{count} passed\b", result.output):
            raise RuntimeError(
                f"expected {count} passed, exit {result.returncode}:\n{result.output[-4000:]}"
            )

    return check


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def median_of(results: Sequence[Result], what: Callable[[Result], float | None]) -> float:
    values = [v for v in (what(r) for r in results) if v is not None]
    return median(values)


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-round ratios: each pair ran back to back, under the same load."""
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True) if d > 0]
    return median(ratios)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "-" if value != value else f"{value:.2f}"  # NaN: not measured
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------- parsing output

_SUMMARY_ROW = re.compile(
    r"^(?P<service>[a-z]+)\s+(?P<provider>[a-z-]+)\s+(?P<ready>reused|-|[\d.]+ s)\s+"
    r"(?P<tests>\d+)\s+\S"
)
_SERVICES_UP = re.compile(r"services up in (?P<seconds>[\d.]+) s")
_SLOWEST = re.compile(r"slowest alone (?P<seconds>[\d.]+) s")
_FIRST_TEST = re.compile(r"first test (?P<seconds>[\d.]+) s after pytest start")


@dataclass
class HarnessSummary:
    """The run summary the harness prints at the end (harness/summary.py)."""

    ready: dict[str, float | None] = field(default_factory=dict)  # None: reused
    providers: dict[str, str] = field(default_factory=dict)
    services_up: float | None = None
    slowest_alone: float | None = None
    first_test: float | None = None


def parse_harness_summary(output: str) -> HarnessSummary:
    summary = HarnessSummary()
    in_table = False
    for line in output.splitlines():
        if "integration services (run " in line:
            in_table = True
            continue
        if not in_table:
            continue
        row = _SUMMARY_ROW.match(line)
        if row and row["service"] != "service":
            ready = row["ready"]
            summary.ready[row["service"]] = (
                float(ready.split()[0]) if ready.endswith(" s") else None
            )
            summary.providers[row["service"]] = row["provider"]
        for pattern, attribute in (
            (_SERVICES_UP, "services_up"),
            (_SLOWEST, "slowest_alone"),
            (_FIRST_TEST, "first_test"),
        ):
            found = pattern.search(line)
            if found:
                setattr(summary, attribute, float(found["seconds"]))
    return summary


# ---------------------------------------------------------------- building blocks


def uv() -> str:
    from generated_suite import uv_executable

    return uv_executable()


def make_venv(
    path: Path, requirements: Sequence[str], *, requirement_files: Sequence[Path] = ()
) -> Path:
    """A virtualenv at `path` with exactly these packages; returns its python."""
    if not (path / "bin" / "python").exists():
        subprocess.run([uv(), "venv", "-q", str(path)], check=True)
    args = [uv(), "pip", "install", "-q", "--python", str(path)]
    for file in requirement_files:
        args += ["-r", str(file)]
    subprocess.run([*args, *requirements], check=True)
    return path / "bin" / "python"


def render_project(
    destination: Path,
    *,
    template: Path = REPO_ROOT,
    services: Sequence[str] = ("postgres",),
    include_samples: bool = True,
    **answers: Any,
) -> Path:
    """The template rendered (working tree, uncommitted changes too) into a git repo."""
    from rendering import render

    return render(
        destination,
        src=template,
        project_name=PROJECT,
        services=list(services),
        include_samples=include_samples,
        **answers,
    )


def write_timeline_plugin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench_timeline.py").write_text(TIMELINE_PLUGIN)
    return directory


def with_database(url: str, database: str) -> str:
    """`url` naming another database on the same server."""
    return url.rsplit("/", 1)[0] + "/" + database


@contextlib.contextmanager
def scratch_database(url: str, name: str) -> Iterator[str]:
    """A database `name` on the server of `url` for the block; dropped after."""
    import psycopg

    if "test" not in name:
        raise ValueError(f"refusing to create {name!r}: not a test database name")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def leftover_databases(url: str, prefix: str) -> list[str]:
    """Databases named `prefix...`, once the server has finished creating them: a run
    of the generated suite ends by handing the server a CREATE DATABASE of its spare
    (`test_<project>_spare`) that it does not wait for."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active'"
                " AND starts_with(query, 'CREATE DATABASE \"' || %s)",
                [prefix],
            ).fetchone()
        ):
            time.sleep(0.05)
        rows = admin.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        ).fetchall()
    return [row[0] for row in rows]


def drop_databases(url: str, names: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        for name in names:
            if "test" in name:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def docker_containers(label: str) -> list[str]:
    """Ids of containers (running or not) carrying `label` (key or key=value)."""
    if shutil.which("docker") is None:
        return []
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return listed.stdout.split()


def remove_containers(ids: Sequence[str]) -> None:
    if ids:
        subprocess.run(["docker", "rm", "-f", "-v", *ids], capture_output=True, check=False)


def remove_benchmark_containers() -> list[str]:
    """Every container this benchmark or the harness under it started for `bench`."""
    ids = docker_containers(BENCH_LABEL) + docker_containers(f"{HARNESS_LABEL}.project={PROJECT}")
    ids += _pytest_databases_containers()
    remove_containers(sorted(set(ids)))
    return ids


def _pytest_databases_containers() -> list[str]:
    if shutil.which("docker") is None:
        return []
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "name=^pytest_databases_postgres"],
        capture_output=True,
        text=True,
        check=False,
    )
    return listed.stdout.split()


@contextlib.contextmanager
def tarpit() -> Iterator[int]:
    """A loopback port that accepts connections and never answers a byte.

    A service URL pointing here makes any probe of that service wait for its
    timeout: a run that does not wait did not probe it.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                connection, _ = server.accept()
                accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for connection in accepted:
            connection.close()
        server.close()


def native_urls() -> dict[str, str]:
    from machine_services import native_service_urls

    return native_service_urls()


def container_images() -> dict[str, str]:
    from machine_services import container_images as images

    return images()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def machine_line() -> str:
    """Cores, and the speed of one core (a fixed Python loop), to compare runs by."""
    started = time.perf_counter()
    total = 0
    for number in range(3_000_000):
        total += number
    loop = time.perf_counter() - started
    return f"{os.cpu_count()} cores; 3M-iteration Python loop {loop:.2f} s"


# Loaded with `-p bench_timings`: setup + call + teardown of every test, as the
# controller receives the reports (full precision; JUnit XML rounds to 1 ms).
TIMINGS_PLUGIN = """
import json
import os
from collections import defaultdict

_seconds = defaultdict(float)


def pytest_runtest_logreport(report):
    _seconds[report.nodeid] += report.duration


def pytest_sessionfinish(session):
    path = os.environ.get("BENCH_TIMINGS")
    if path and not hasattr(session.config, "workerinput"):
        with open(path, "w") as out:
            json.dump(_seconds, out)
"""


def write_timings_plugin(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench_timings.py").write_text(TIMINGS_PLUGIN)
    return directory


def median_test_ms(timings: Path) -> float:
    """Median setup + call + teardown of one test, in milliseconds."""
    seconds: dict[str, float] = json.loads(timings.read_text())
    return median(list(seconds.values())) * 1000


def phase_median(results: Sequence[Result], start: str, end: str) -> float:
    """Median duration between two timeline marks (runs without them left out)."""
    return median([value for r in results if (value := r.phase(start, end)) is not None])
