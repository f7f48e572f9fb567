"""The worst day, for real: services that freeze, refuse, or were never there.

Each fault runs a generated suite (one small module per service, CI=true) against the
machine's real services through a TCP proxy of the test's own, which it freezes
(SIGSTOP: connections are accepted, nothing answers) or kills. Asserted every time:
the run ends within its time bound, the service's message is printed once, each test
that needed it says one line, and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import import_audit
import pytest
from fault_proxy import FaultProxy, free_port
from fault_suite import (
    ASYNC_SERVICES,
    NATIVE_PORTS,
    SERVICES,
    TESTS,
    URL_ENVS,
    FaultRun,
    run_faulty,
    run_native_urls,
    url,
    write_async_fault_modules,
    write_fault_modules,
)
from rendering import ALL_SERVICES, render
from server_state import (
    RunWatch,
    drop_mysql_databases,
    drop_postgres_databases,
    mysql_databases,
    postgres_databases,
    rabbitmq_objects,
    redis_keys,
    run_state_folders,
)

pytestmark = pytest.mark.slow

PROJECT = "faults"
PREFIX = f"test_{PROJECT}_"
STARTUP_TIMEOUT = 4
CALL_TIMEOUT = 3
# Bounds are on pytest's own session time; on top of it a busy machine spends some
# seconds starting the interpreter, which the harness does not control.
SLACK_SECONDS = 2
# What a run with one unavailable service may print besides one line per test.
MAX_LINES = 60
# The report of the test in flight when its service froze: the service, what the
# test was doing, the limit that ended it (0.2.x: 200-660 lines of chained tracebacks).
MAX_IN_FLIGHT_LINES = 15
# IT_STARTUP_TIMEOUT for a server frozen from the start; the deadline is kept to
# within a second (0.2.8: an attempt could start at the deadline and run its whole
# connect timeout past it).
FROZEN_STARTUP_TIMEOUT = 10
# From Ctrl-C to the end of the process (pytest formats the interrupt, workers stop).
INTERRUPT_EXIT_SECONDS = 3
# The run after a frozen one uses another service; the client the sweep then needs.
OTHER_SERVICE = {
    "postgres": "rabbitmq",
    "mysql": "rabbitmq",
    "redis": "rabbitmq",
    "rabbitmq": "redis",
}
CLIENT = {"postgres": "psycopg", "mysql": "pymysql", "redis": "redis", "rabbitmq": "pika"}


def interrupt_pytest() -> None:
    """Ctrl-C to the pytest run of this module (the newest one we started)."""
    subprocess.run(["pkill", "-INT", "-f", "pytest -p no:randomly tests/integration/test_fault_"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = render(
        tmp_path_factory.mktemp("faults") / PROJECT,
        project_name=PROJECT,
        services=ALL_SERVICES,
        include_samples=False,
    )
    write_fault_modules(root)
    return root


@pytest.fixture(scope="module")
def async_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = render(
        tmp_path_factory.mktemp("faults-async") / PROJECT,
        project_name=PROJECT,
        services=ALL_SERVICES,
        include_samples=False,
        async_tests=True,
    )
    write_fault_modules(root)
    write_async_fault_modules(root)
    return root


@pytest.fixture(autouse=True)
def leaves_nothing(native_urls: dict[str, str]) -> Iterator[None]:
    """No database, key, queue, exchange or state folder of this project remains.

    Keys, queues and exchanges are named after a run, not a project: only those of
    this test's runs count (RunWatch), not those of other tests' runs meanwhile."""
    drop_postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX)
    drop_mysql_databases(native_urls["IT_MYSQL_URL"], PREFIX)
    folders = set(run_state_folders(PROJECT))
    with RunWatch(PROJECT) as runs:
        yield
    assert postgres_databases(native_urls["IT_POSTGRES_URL"], PREFIX) == set()
    assert mysql_databases(native_urls["IT_MYSQL_URL"], PREFIX) == set()
    assert runs.names_of_runs(redis_keys(native_urls["IT_REDIS_URL"])) == []
    assert runs.names_of_runs(rabbitmq_objects()) == []
    assert set(run_state_folders(PROJECT)) <= folders


def assert_one_message(run: FaultRun, service: str, cause: str, *, unavailable: int) -> None:
    assert run.returncode == 1, run.output[-4000:]
    assert run.headings(service) == 1, run.output[-4000:]
    assert cause in run.output, run.output[-4000:]
    assert re.search(rf"\b{unavailable} unavailable\b", run.final_line()), run.final_line()
    assert len(run.lines) <= MAX_LINES + unavailable, run.output


@pytest.mark.alone  # bounds of seconds on pytest's session time
def test_frozen_at_start_ends_within_the_startup_timeout(project: Path, suite_python: Path) -> None:
    """Every service frozen from the start, in one run: each is reported once, and
    the wait ends at IT_STARTUP_TIMEOUT (to within a second), not an attempt later."""
    with contextlib.ExitStack() as stack:
        proxies = {
            s: stack.enter_context(FaultProxy("127.0.0.1", NATIVE_PORTS[s])) for s in SERVICES
        }
        for proxy in proxies.values():
            proxy.freeze()
        env = run_native_urls(**{URL_ENVS[s]: url(s, p.port) for s, p in proxies.items()})
        others = [f"tests/integration/test_fault_{s}.py" for s in SERVICES[1:]]
        run = run_faulty(
            project, suite_python, SERVICES[0], *others,
            env={**env, "IT_STARTUP_TIMEOUT": str(FROZEN_STARTUP_TIMEOUT)},
        )  # fmt: skip
    unavailable = TESTS * len(SERVICES)
    assert run.returncode == 1, run.output[-4000:]
    for service in SERVICES:
        assert run.headings(service) == 1, run.output[-4000:]
    assert run.output.count(f"did not answer within {FROZEN_STARTUP_TIMEOUT} s") >= len(SERVICES)
    assert re.search(rf"\b{unavailable} unavailable\b", run.final_line()), run.final_line()
    assert len(run.lines) <= MAX_LINES + unavailable, run.output
    assert run.tracebacks() == 0, run.output
    waited = re.search(r"services up in ([\d.]+) s", run.output)
    assert waited is not None, run.output[-4000:]
    # To within a second of the deadline (0.3.0: 20.8 s in 2 runs of 4, two threads'
    # overlapping starts added up; before that an attempt, then the protocol check, ran
    # past it: tests/test_startup_deadline.py).
    assert float(waited.group(1)) <= FROZEN_STARTUP_TIMEOUT + 1, run.output[-6000:]
    # pytest collects before it starts what the tests need: a second of slack more.
    assert run.session_seconds < FROZEN_STARTUP_TIMEOUT + 1 + 2 * SLACK_SECONDS, run.final_line()


@pytest.mark.parametrize("service", SERVICES)
def test_frozen_mid_run_fails_the_test_in_flight_and_the_rest_at_once(
    project: Path, suite_python: Path, service: str, tmp_path: Path
) -> None:
    with FaultProxy("127.0.0.1", NATIVE_PORTS[service]) as proxy:
        env = run_native_urls(**{URL_ENVS[service]: url(service, proxy.port)})
        env["IT_CALL_TIMEOUT"] = str(CALL_TIMEOUT)
        run = run_faulty(
            project, suite_python, service, env=env,
            gate=tmp_path / "gate", on_started=proxy.freeze,
        )  # fmt: skip
        assert run.returncode == 1, run.output[-4000:]
        # The call in flight ends within IT_CALL_TIMEOUT plus the SQL watchdog's grace
        # (5 s) or pika's heartbeat check (up to 12 s with so short a limit); the
        # later tests do not wait for anything.
        assert run.after_fault < CALL_TIMEOUT + 12 + SLACK_SECONDS, run.after_fault
        assert re.search(r"\b1 failed\b", run.final_line()), run.final_line()
        assert re.search(rf"\b{TESTS - 1} unavailable\b", run.final_line())
        assert "stopped answering during the run" in run.output
        assert run.tracebacks() == 1, run.output
        assert_short_in_flight_report(run, service)
        # Thawed, the same server is swept by the next run: what the frozen run made
        # there (databases, names) goes, and its state folder with it. That run uses
        # another service: the sweep needs a client the run never imported, which
        # only the main thread may import (import_audit; 0.2.7 swept from the
        # start-up thread).
        proxy.thaw()
        audit = tmp_path / "audit"
        again = run_faulty(
            project, suite_python, OTHER_SERVICE[service], "-k", "0", "-p", "import_audit",
            env={**env, **import_audit.plugin_env(audit)},
        )  # fmt: skip
        assert again.returncode == 0, again.output[-4000:]
        assert "swept what run" in again.output
        import_audit.assert_main_thread_only(audit, expected=(CLIENT[service],))


def assert_short_in_flight_report(run: FaultRun, service: str) -> None:
    """The test in flight says, in a few lines, which service stopped answering,
    what it was doing and the limit that ended it; the run stays short too."""
    report = run.failure_report()
    assert report, run.output
    assert len(report) <= MAX_IN_FLIGHT_LINES, "\n".join(report)
    text = "\n".join(report)
    assert f"{service} stopped answering" in text, text
    assert "doing: " in text, text
    assert "IT_CALL_TIMEOUT" in text, text
    assert len(run.lines) <= MAX_LINES + TESTS, run.output


@pytest.mark.parametrize("service", ASYNC_SERVICES)
def test_frozen_mid_run_async_test_in_flight_says_it_in_a_few_lines(
    async_project: Path, suite_python: Path, service: str, tmp_path: Path
) -> None:
    with FaultProxy("127.0.0.1", NATIVE_PORTS[service]) as proxy:
        env = run_native_urls(**{URL_ENVS[service]: url(service, proxy.port)})
        env["IT_CALL_TIMEOUT"] = str(CALL_TIMEOUT)
        run = run_faulty(
            async_project, suite_python, f"async_{service}", env=env,
            gate=tmp_path / "gate", on_started=proxy.freeze,
        )  # fmt: skip
        proxy.thaw()
        # What the frozen run made there goes (the next run's sweep, as for sync).
        again = run_faulty(async_project, suite_python, service, "-k", "0", env=env)
    assert run.returncode == 1, run.output[-4000:]
    assert run.after_fault < CALL_TIMEOUT + 12 + SLACK_SECONDS, run.after_fault
    assert re.search(r"\b1 failed\b", run.final_line()), run.final_line()
    assert re.search(rf"\b{TESTS - 1} unavailable\b", run.final_line())
    assert_short_in_flight_report(run, service)
    assert again.returncode == 0, again.output[-4000:]


def test_a_users_own_failure_keeps_its_traceback(project: Path, suite_python: Path) -> None:
    """Only a lost service's errors are shortened: an assertion in a test that uses
    a healthy service is reported as pytest always does."""
    module = project / "tests/integration/test_fault_user_assertion.py"
    module.write_text(
        "def test_user(redis_client, redis_namespace) -> None:\n"
        "    redis_client.set(redis_namespace.key('k'), 1)\n"
        "    assert redis_client.get(redis_namespace.key('k')) == b'2'\n"
    )
    try:
        run = run_faulty(project, suite_python, "user_assertion", env=run_native_urls())
    finally:
        module.unlink()
    assert run.returncode == 1, run.output[-4000:]
    assert "stopped answering" not in run.output, run.output
    assert "AssertionError" in run.output or "assert b'1' == b'2'" in run.output, run.output


@pytest.mark.alone  # bounds of seconds on pytest's session time
@pytest.mark.parametrize("service", SERVICES)
def test_refused_port_fails_at_once(project: Path, suite_python: Path, service: str) -> None:
    env = run_native_urls(**{URL_ENVS[service]: url(service, free_port())})
    run = run_faulty(project, suite_python, service, env=env)
    assert_one_message(run, service, "nothing listens there", unavailable=TESTS)
    assert run.session_seconds < SLACK_SECONDS, run.final_line()


# A SQL URL's database need not exist (test_missing_url_database.py): no refusal.
REFUSALS = [
    ("postgres", {"auth": "test_no_such_role"}, "credentials refused"),
    ("mysql", {"auth": "root:wrong"}, "credentials refused"),
    ("redis", {"auth": "nobody:wrong"}, "credentials refused"),
    ("rabbitmq", {"auth": "guest:wrong"}, "credentials refused"),
    ("redis", {"db": "99"}, "not found on the server"),
    ("rabbitmq", {"db": "no_such_vhost"}, "not found on the server"),
]


@pytest.mark.alone  # bounds of seconds on pytest's session time
@pytest.mark.parametrize(
    ("service", "parts", "cause"), REFUSALS, ids=[f"{s}-{c}" for s, _, c in REFUSALS]
)
def test_definitive_refusal_fails_at_once_and_says_what_was_refused(
    project: Path, suite_python: Path, service: str, parts: dict[str, str], cause: str
) -> None:
    env = run_native_urls(**{URL_ENVS[service]: url(service, NATIVE_PORTS[service], **parts)})
    run = run_faulty(project, suite_python, service, env=env)
    assert_one_message(run, service, cause, unavailable=TESTS)
    assert "wrong" not in run.output  # passwords are masked
    assert run.session_seconds < SLACK_SECONDS, run.final_line()


@pytest.mark.alone  # bounds of seconds on pytest's session time
def test_a_non_test_database_is_refused_before_connecting(
    project: Path, suite_python: Path
) -> None:
    with FaultProxy("127.0.0.1", NATIVE_PORTS["postgres"]) as proxy:
        proxy.freeze()  # a connection attempt would hang: the check must come first
        env = run_native_urls(IT_POSTGRES_URL=url("postgres", proxy.port, db="orders"))
        run = run_faulty(project, suite_python, "postgres", env=env)
    assert_one_message(run, "postgres", "not a test target", unavailable=TESTS)
    assert "clean-up failed" not in run.output
    assert run.session_seconds < SLACK_SECONDS, run.final_line()


@pytest.mark.docker
@pytest.mark.parametrize("provider", ["testcontainers", "compose"])
def test_an_image_that_cannot_be_pulled_is_named_once(
    project: Path, suite_python: Path, images: dict[str, str], provider: str
) -> None:
    env = {
        **images,
        "IT_PROVIDER": provider,
        "IT_POSTGRES_IMAGE": "registry.invalid/postgres:0",
    }
    run = run_faulty(project, suite_python, "postgres", env=env)
    assert_one_message(run, "postgres", "image cannot be pulled", unavailable=TESTS)
    assert "registry.invalid/postgres:0" in run.output
    assert "IT_POSTGRES_IMAGE" in run.output


@pytest.mark.alone  # bounds of seconds on pytest's session time
@pytest.mark.parametrize("service", SERVICES)
def test_ctrl_c_while_a_call_waits_on_a_frozen_service_ends_the_run_at_once(
    project: Path, suite_python: Path, service: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    with FaultProxy("127.0.0.1", NATIVE_PORTS[service]) as proxy:
        env = run_native_urls(**{URL_ENVS[service]: url(service, proxy.port)})

        def freeze_then_interrupt() -> None:
            proxy.freeze()
            # The test's second call is sent after the gate opens; give it a moment.
            threading.Timer(1.0, interrupt_pytest).start()

        run = run_faulty(
            project, suite_python, service, env=env, gate=gate,
            on_started=freeze_then_interrupt,
        )  # fmt: skip
        assert run.returncode == 2, run.output[-3000:]  # interrupted
        # 1 s before Ctrl-C, then the run ends: in-flight calls are cut, clean-ups
        # that would wait on the frozen server are left to the next run.
        assert run.after_fault < 1 + INTERRUPT_EXIT_SECONDS, run.after_fault
        proxy.thaw()
        again = run_faulty(project, suite_python, service, "-k", "0", env=env)
        assert again.returncode == 0, again.output[-4000:]
        assert "swept what run" in again.output
