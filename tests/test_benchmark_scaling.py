"""The benchmark's split of a run into start-up and per-test cost, on known numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from isolation_overhead import Measurement, Run, break_even_tests


def wall(startup: float, per_test: float, tests: float) -> float:
    return startup + tests * per_test


def test_startup_is_the_wall_time_extrapolated_to_no_tests() -> None:
    runs = {200: Run(wall(2.0, 0.005, 200), 0.5, 4.0), 1000: Run(wall(2.0, 0.005, 1000), 0.5, 4.0)}
    measured = Measurement("rollback", 1, runs)

    assert measured.per_test_ms() == pytest.approx(5.0)
    assert measured.startup_seconds() == pytest.approx(2.0)


def test_break_even_tests_is_where_the_wall_ratio_reaches_the_target() -> None:
    s1, s2, t1, t2 = 2.0, 2.4, 0.003, 0.0015

    tests = int(break_even_tests(s1, s2, t1, t2).replace(",", ""))

    assert wall(s1, t1, tests) / wall(s2, t2, tests) == pytest.approx(1.5, abs=1e-3)
    assert wall(s1, t1, tests - 100) / wall(s2, t2, tests - 100) < 1.5


@pytest.mark.parametrize(
    ("s1", "s2", "t1", "t2", "expected"),
    [
        (0.64, 0.71, 0.00234, 0.00168, "never"),  # per-test speed-up below 1.5x
        (3.0, 1.0, 0.002, 0.001, "any"),  # -n 2 starts up faster: 1.5x from the start
        (2.0, 2.0, 0.002, -0.001, "noise: re-run"),  # a negative slope is noise
    ],
)
def test_break_even_tests_edge_cases(
    s1: float, s2: float, t1: float, t2: float, expected: str
) -> None:
    assert break_even_tests(s1, s2, t1, t2) == expected
