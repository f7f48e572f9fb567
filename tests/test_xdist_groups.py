"""`--dist loadgroup` keeps a group's tests on one worker (tests/xdist_groups.py): the
slow tier's module groups and the machine's serial group rely on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from xdist_groups import NodeId

# Each test notes the worker it ran on; a short sleep lets both workers take tests.
GROUPED_TESTS = """
import os
import time

import pytest


@pytest.mark.xdist_group("together")
@pytest.mark.parametrize("n", range(4))
def test_grouped(n: int) -> None:
    time.sleep(0.2)
    with open(os.environ["WORKERS_LOG"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
"""
MENDED = """
from xdist_groups import GroupsInNodeIds


def pytest_configure(config):
    config.pluginmanager.register(GroupsInNodeIds(), "groups-in-node-ids")
"""


def workers_of_a_group(tmp_path: Path, conftest: str) -> set[str]:
    """The workers that ran the 8 tests of one group (two modules), under -n 2."""
    for module in ("test_a.py", "test_b.py"):
        (tmp_path / module).write_text(GROUPED_TESTS)
    (tmp_path / "conftest.py").write_text(conftest)
    log = tmp_path / "workers.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "WORKERS_LOG": str(log)}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup",
         "-p", "no:cacheprovider", "-p", "no:randomly", "-c", os.devnull,
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    workers = log.read_text().split()
    assert len(workers) == 8, workers
    return set(workers)


def test_a_groups_tests_run_on_one_worker(tmp_path: Path) -> None:
    assert len(workers_of_a_group(tmp_path, MENDED)) == 1


@pytest.mark.skipif(NodeId is None, reason="pytest < 9.2: xdist's own rename works")
def test_without_the_mend_pytest_9_2_spreads_a_group(tmp_path: Path) -> None:
    """What the mend is for (pytest-xdist#1386): when this fails, xdist groups tests by
    itself again, and tests/xdist_groups.py can go."""
    assert len(workers_of_a_group(tmp_path, "")) == 2
