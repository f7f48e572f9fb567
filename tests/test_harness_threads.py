"""What the harness's threads log carries no traceback; the main thread's still does.

pika logs every refused connection with its traceback while RabbitMQ starts, in a
start-up thread, beside collection. CPython 3.11 formats a traceback with ast.parse,
whose AST builder is not thread-safe: a cold start once failed collection of the
contract tests with "SystemError: AST constructor recursion depth mismatch" (caught by
benchmarks/cold_start.py). The check: no ast.parse runs in a harness thread.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from rendering import render

SCRIPT = """
import ast, io, json, logging, threading
from integration.harness.concurrency import map_concurrently

parsed_in = []
real_parse = ast.parse

def parse(*args, **kwargs):
    parsed_in.append(threading.current_thread().name)
    return real_parse(*args, **kwargs)

ast.parse = parse
stream = io.StringIO()
logger = logging.getLogger("client")
logger.addHandler(logging.StreamHandler(stream))

def connect(attempt):
    try:
        raise ConnectionRefusedError(f"attempt {attempt} refused")
    except ConnectionRefusedError:
        logger.exception("connection failed")
    return attempt

results = map_concurrently(connect, [1, 2])
in_threads = stream.getvalue()
stream.truncate(0)
connect(3)
print(json.dumps({
    "results": results,
    "in_threads": in_threads,
    "in_main": stream.getvalue(),
    "parsed_in": parsed_in,
}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("threads") / "shop", services=["rabbitmq"])


def test_records_of_harness_threads_keep_the_error_text_without_a_traceback(
    project: Path, suite_python: Path
) -> None:
    completed = subprocess.run(
        [str(suite_python), "-c", SCRIPT],
        cwd=project / "tests",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["results"] == [1, 2]
    for attempt in (1, 2):
        assert f"ConnectionRefusedError: attempt {attempt} refused" in report["in_threads"]
    assert "Traceback" not in report["in_threads"]
    assert not any(name.startswith("integration-") for name in report["parsed_in"])
    # The main thread's records are left alone: the whole traceback.
    assert "Traceback (most recent call last)" in report["in_main"]
