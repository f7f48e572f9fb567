"""A test waits for its own services, not for the slowest service of the run.

RabbitMQ's URL points at a socket that accepts connections and never answers (a
broker still booting, for as long as IT_STARTUP_TIMEOUT allows); PostgreSQL is the
machine's. The PostgreSQL test comes first in its module: it must run while RabbitMQ
is still being waited for, under xdist too (where the controller starts services
and the workers wait on each service's lock), and the RabbitMQ test must still
report its service, once the timeout is over.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_suite import clean_environment, run_suite
from rendering import render

# Alone: the database test must run within seconds of the start.
pytestmark = [pytest.mark.slow, pytest.mark.alone]

STARTUP_TIMEOUT = 10.0
TESTS = """\
import os
import time

from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import text
from sqlalchemy.orm import Session


def test_database(db_session: Session) -> None:
    assert db_session.execute(text("SELECT 1")).scalar() == 1
    with open(os.environ["RAN_AT_FILE"], "w") as out:
        out.write(str(time.time()))


def test_queue(amqp_channel: BlockingChannel) -> None:
    assert amqp_channel.queue_declare(queue="", exclusive=True).method.queue
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = render(
        tmp_path_factory.mktemp("per-service") / "shop",
        services=["postgres", "rabbitmq"],
        include_samples=False,
    )
    (root / "tests/integration/test_two_services.py").write_text(TESTS)
    return root


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """An AMQP URL whose socket completes the handshake (the kernel's backlog) and
    then says nothing: to the harness, a broker that is not ready yet."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}/%2F"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_a_database_test_does_not_wait_for_a_slow_broker(
    project: Path,
    suite_python: Path,
    native_urls: dict[str, str],
    silent_broker: str,
    tmp_path: Path,
    workers: list[str],
) -> None:
    ran_at_file = tmp_path / "ran-at"
    env = clean_environment(
        CI="true",
        IT_POSTGRES_URL=native_urls["IT_POSTGRES_URL"],
        IT_AMQP_URL=silent_broker,
        IT_STARTUP_TIMEOUT=str(STARTUP_TIMEOUT),
        RAN_AT_FILE=str(ran_at_file),
    )
    started = time.time()
    result = run_suite(
        project,
        [str(suite_python), "-m", "pytest"],
        *workers,
        env=env,
        paths=("tests/integration/test_two_services.py",),
    )
    finished = time.time()
    assert [name.rsplit("::", 1)[1] for name in result.passed] == ["test_database"]
    assert [name.rsplit("::", 1)[1] for name in result.failed] == ["test_queue"]
    assert "rabbitmq: did not become ready" in result.output, result.summary()
    # The broker held its test for the whole timeout, so the check below can fail...
    assert finished - started >= STARTUP_TIMEOUT, result.summary()
    # ...and the database test ran long before that timeout was over.
    ran_after = float(ran_at_file.read_text()) - started
    assert ran_after < STARTUP_TIMEOUT / 2, f"ran {ran_after:.1f} s after the start"
