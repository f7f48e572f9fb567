"""A generated suite with one small test module per service, run while faults happen.

Each module has `TESTS` tests that use their service twice; the first waits at a gate
(a file) between the two uses when FAULT_GATE is set, so that the outer test can
freeze the service mid-run at a known point.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from generated_suite import clean_environment, sigint_as_in_a_terminal

TESTS = 6
SERVICES = ("postgres", "mysql", "redis", "rabbitmq")
NATIVE_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379, "rabbitmq": 5672}
URL_ENVS = {
    "postgres": "IT_POSTGRES_URL",
    "mysql": "IT_MYSQL_URL",
    "redis": "IT_REDIS_URL",
    "rabbitmq": "IT_AMQP_URL",
}
URLS = {
    "postgres": "postgresql://{auth}@127.0.0.1:{port}/{db}",
    "mysql": "mysql://{auth}@127.0.0.1:{port}/{db}",
    "redis": "redis://{auth}127.0.0.1:{port}/{db}",
    "rabbitmq": "amqp://{auth}@127.0.0.1:{port}/{db}",
}
DEFAULTS = {
    "postgres": {"auth": "postgres", "db": "test"},
    "mysql": {"auth": "root", "db": "test"},
    "redis": {"auth": "", "db": "0"},
    "rabbitmq": {"auth": "guest:guest", "db": "%2F"},
}

GATE_CONFTEST = '''
import os
import time
from pathlib import Path

import pytest


@pytest.fixture
def gate(request: pytest.FixtureRequest):
    """Test 0 of a module waits here until the outer test froze the service."""
    def wait() -> None:
        path = os.environ.get("FAULT_GATE")
        if not path or not request.node.name.endswith("[0]"):
            return
        Path(path + ".started").write_text("started")
        deadline = time.monotonic() + 60
        while not Path(path + ".frozen").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return wait
'''

SQL_MODULE = """
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session


@pytest.fixture
def database_service() -> str:
    return "{service}"


@pytest.mark.parametrize("n", range({tests}))
def test_{service}(n: int, db_session: Session, gate) -> None:
    db_session.execute(text("SELECT 1"))
    gate()
    db_session.execute(text("SELECT 1"))
"""

REDIS_MODULE = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_redis(n: int, redis_client, redis_namespace, gate) -> None:
    redis_client.set(redis_namespace.key("n"), n)
    gate()
    redis_client.get(redis_namespace.key("n"))
"""

RABBITMQ_MODULE = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_rabbitmq(n: int, amqp_channel, amqp_names, gate) -> None:
    queue = amqp_names.queue("work")
    amqp_channel.queue_declare(queue, arguments=amqp_names.queue_arguments())
    gate()
    amqp_channel.queue_declare(queue, passive=True)
"""


ASYNC_SQL_MODULE = """
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def database_service() -> str:
    return "{service}"


@pytest.mark.parametrize("n", range({tests}))
async def test_async_{service}(n: int, async_db_session, gate) -> None:
    await async_db_session.execute(text("SELECT 1"))
    gate()
    await async_db_session.execute(text("SELECT 1"))
"""

ASYNC_RABBITMQ_MODULE = """
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("n", range({tests}))
async def test_async_rabbitmq(n: int, async_amqp_channel, amqp_names, gate) -> None:
    name = amqp_names.queue("work")
    queue = await async_amqp_channel.declare_queue(
        name, arguments=amqp_names.queue_arguments()
    )
    gate()
    await async_amqp_channel.declare_queue(name, passive=True)
    await queue.delete()
"""
# Services with asyncio fixtures (async_tests=True): Redis has none.
ASYNC_SERVICES = ("postgres", "mysql", "rabbitmq")


def write_async_fault_modules(project: Path) -> None:
    """test_fault_async_<service>.py, for a render with async_tests=True."""
    suite = project / "tests/integration"
    for service in ("postgres", "mysql"):
        (suite / f"test_fault_async_{service}.py").write_text(
            ASYNC_SQL_MODULE.format(service=service, tests=TESTS)
        )
    (suite / "test_fault_async_rabbitmq.py").write_text(ASYNC_RABBITMQ_MODULE.format(tests=TESTS))


def write_fault_modules(project: Path) -> None:
    suite = project / "tests/integration"
    (suite / "conftest_gate.py").write_text(GATE_CONFTEST)
    conftest = suite / "conftest.py"
    conftest.write_text(conftest.read_text() + "\nfrom .conftest_gate import gate  # noqa\n")
    for service in ("postgres", "mysql"):
        (suite / f"test_fault_{service}.py").write_text(
            SQL_MODULE.format(service=service, tests=TESTS)
        )
    (suite / "test_fault_redis.py").write_text(REDIS_MODULE.format(tests=TESTS))
    (suite / "test_fault_rabbitmq.py").write_text(RABBITMQ_MODULE.format(tests=TESTS))


def url(service: str, port: int, **parts: str) -> str:
    values = {**DEFAULTS[service], **parts}
    if service == "redis" and values["auth"]:
        values["auth"] += "@"
    return URLS[service].format(port=port, **values)


@dataclass
class FaultRun:
    returncode: int
    output: str
    seconds: float
    # Seconds from the fault (freeze) to the end of the run; == seconds without one.
    after_fault: float

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def headings(self, service: str) -> int:
        """How often the one full message about `service` was printed."""
        return sum(1 for line in self.lines if f" {service} is unavailable " in line)

    def final_line(self) -> str:
        return self.lines[-1] if self.lines else ""

    @property
    def session_seconds(self) -> float:
        """pytest's own duration ("in 4.25s"): the run without interpreter start-up,
        which a busy machine stretches (imports without cached bytecode)."""
        import re

        found = re.search(r" in ([\d.]+)s", self.final_line())
        return float(found.group(1)) if found else float("inf")

    def failure_report(self) -> list[str]:
        """The lines of the first failure section: from its `___ test_x ___` header
        to the next section (captured output, the summary, another failure)."""
        lines = self.lines
        starts = [i for i, line in enumerate(lines) if line.startswith("___") and "test_" in line]
        if not starts:
            return []
        end = next(
            (i for i in range(starts[0] + 1, len(lines)) if lines[i][:3] in ("___", "---", "===")),
            len(lines),
        )
        return lines[starts[0] : end]

    def tracebacks(self) -> int:
        """Failure sections with a traceback (pytest's `___ test_x ___` headers)."""
        return sum(1 for line in self.lines if line.startswith("___") and "test_" in line)


def run_faulty(
    project: Path,
    python: Path,
    service: str,
    *args: str,
    env: dict[str, str],
    gate: Path | None = None,
    on_started: object = None,
) -> FaultRun:
    """Run `service`'s fault module; with a gate, call `on_started()` (the fault)
    once test 0 has used the service, then let it go on."""
    full_env = clean_environment(CI="true", **env)
    if gate is not None:
        full_env["FAULT_GATE"] = str(gate)
        for suffix in (".started", ".frozen"):
            Path(f"{gate}{suffix}").unlink(missing_ok=True)
    command = [
        str(python), "-m", "pytest", "-p", "no:randomly",
        f"tests/integration/test_fault_{service}.py", *args,
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=project, env=full_env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=sigint_as_in_a_terminal,  # the Ctrl-C cases interrupt it
    )  # fmt: skip
    fault_at = started
    if gate is not None and callable(on_started):
        deadline = time.monotonic() + 120
        while not Path(f"{gate}.started").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        on_started()
        fault_at = time.monotonic()
        Path(f"{gate}.frozen").write_text("frozen")
    output, _ = process.communicate(timeout=600)
    ended = time.monotonic()
    return FaultRun(process.returncode, output, ended - started, ended - fault_at)


def run_native_urls(**overrides: str) -> dict[str, str]:
    env = {URL_ENVS[s]: url(s, NATIVE_PORTS[s]) for s in SERVICES}
    env.update(overrides)
    return env
