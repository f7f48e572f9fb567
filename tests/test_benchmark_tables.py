"""The benchmarks' arithmetic and parsing, on known numbers: no timing is asserted here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _bench as bench
import cold_start
import inner_loop
import peers
import scaling
from _bench import Result

SUMMARY = "\n".join(
    [
        "------------------- integration services (run 03282d09af22) -------------------",
        "service   provider            ready  tests  endpoint",
        "mysql     testcontainers     2.16 s     20  mysql://root:***@localhost:32853/test",
        "postgres  testcontainers     2.94 s     24  postgresql://test:***@localhost:32856/test",
        "rabbitmq  testcontainers     5.31 s      4  amqp://guest:***@localhost:32855/%2F",
        "redis     testcontainers    reused      6  redis://localhost:32854/0",
        "services up in 5.38 s; slowest alone 4.97 s, one after another 9.80 s; "
        "first test 8.94 s after pytest start",
        "postgres: built test_bench_tpl_886dce2a62a8 in 0.43s",
    ]
)


def result(wall: float, cpu: float = 0.0, **marks: float) -> Result:
    return Result(wall=wall, cpu=cpu, returncode=0, output="", marks=dict(marks))


def test_the_run_summary_is_read_per_service() -> None:
    summary = bench.parse_harness_summary(SUMMARY)

    assert summary.ready == {"mysql": 2.16, "postgres": 2.94, "rabbitmq": 5.31, "redis": None}
    assert summary.providers["postgres"] == "testcontainers"
    assert (summary.services_up, summary.slowest_alone, summary.first_test) == (5.38, 4.97, 8.94)


def test_output_without_a_summary_reads_as_no_service() -> None:
    summary = bench.parse_harness_summary("1 passed in 0.12s\n")

    assert summary.ready == {}
    assert summary.first_test is None


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    # Round 2 ran under load for both: its ratio is what counts, not its seconds.
    assert bench.paired_ratio([1.2, 6.0, 1.1], [1.0, 5.0, 1.0]) == pytest.approx(1.2)


def test_phases_are_differences_of_timeline_marks() -> None:
    runs = [result(1.0, spawn=0.0, plugin=0.2), result(1.0, spawn=0.0, plugin=0.4)]
    runs.append(result(1.0))  # a run without a timeline does not count

    assert bench.phase_median(runs, "spawn", "plugin") == pytest.approx(0.3)
    assert bench.phase_median(runs, "spawn", "missing") != bench.phase_median(
        runs, "spawn", "missing"
    )


def test_worker_marks_are_the_earliest_workers(tmp_path: Path) -> None:
    controller = tmp_path / "timeline.json"
    controller.write_text(json.dumps({"plugin": 100.5, "first_result": 104.0}))
    (tmp_path / "timeline.json.gw0").write_text(json.dumps({"collected": 102.0}))
    (tmp_path / "timeline.json.gw1").write_text(json.dumps({"collected": 101.5}))

    marks = bench.read_timeline(controller, spawned=100.0)

    assert marks["spawn"] == 0.0
    assert marks["plugin"] == pytest.approx(0.5)
    assert marks["w:collected"] == pytest.approx(1.5)


def test_markdown_table_shows_unmeasured_cells_as_a_dash() -> None:
    table = bench.markdown_table(["a", "b"], [["x", 1.234], ["y", float("nan")]])

    assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 1.23 |", "| y | - |"]


def test_must_pass_rejects_a_run_with_fewer_passed_tests() -> None:
    check = bench.must_pass(2)
    check(Result(1.0, 1.0, 0, "2 passed in 0.3s"))

    with pytest.raises(RuntimeError, match="expected 2 passed"):
        check(Result(1.0, 1.0, 0, "1 passed, 1 skipped in 0.3s"))
    with pytest.raises(RuntimeError):
        check(Result(1.0, 1.0, 1, "2 passed in 0.3s"))


def test_inner_loop_row_compares_paired_rounds_with_the_bar() -> None:
    harness = [result(1.1), result(2.3), result(1.2)]
    recipe = [result(1.0), result(2.0), result(1.0)]

    row = inner_loop.scenario_row("external", "harness", harness, recipe)

    assert row[:4] == ["external", "harness", 1.2, 1.0]
    assert row[4] == pytest.approx(1.15)
    assert row[5] == "ok"  # 1.15 is within the bar


def test_peers_verdict_is_wall_at_most_1x_and_cpu_within_1_1x() -> None:
    def runs(wall: float, cpu: float) -> list[Result]:
        return [result(wall, cpu), result(wall, cpu)]

    table = {
        "generated": {"n0": runs(3.0, 1.1), "n2": runs(4.0, 2.5)},
        "pytest-databases": {"n0": runs(3.0, 1.0), "n2": runs(3.5, 2.0)},
    }

    lines = peers.verdicts(table, ["generated"]).strip().splitlines()[2:]

    assert lines == [
        "| generated | -n 0 | 1.00 | ok | 1.10 | ok |",
        "| generated | -n 2 | 1.14 | over | 1.25 | over |",
    ]


def test_cold_start_gap_is_first_result_minus_the_slowest_service() -> None:
    marks = {"collected": 3.0, "testloop": 5.25, "setup_done": 5.45, "first_result": 5.6}
    # When each service answered, after spawning pytest (the controller's marks).
    answered = {"ready:postgres": 4.9, "ready:mysql": 5.2}
    run = Result(12.0, 3.0, 0, SUMMARY, marks={**marks, **answered})
    worker_marks = {
        "first_result": 5.6,
        **answered,
        **{f"w:{k}": v for k, v in marks.items()},
    }
    worker = Result(12.0, 3.0, 0, SUMMARY, marks=worker_marks)

    for table in (
        cold_start.readiness_table({"generated": [run]}),
        cold_start.readiness_table({"generated": [worker]}, worker_marks=True),
    ):
        cells = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]
        assert cells[1:6] == ["2.94", "2.16", "-", "5.31", "5.31"]  # redis was reused
        # gap 5.60 - 5.31; 5.60 - 5.2 after mysql answered, its call 5.45 - 5.2; after
        # collection 2.25 s waiting, then 0.35 s of first test
        assert cells[6:8] == ["5.60", "12.00"]  # first result, whole run
        assert cells[8:] == ["8.94", "0.29", "ok", "0.40", "ok", "0.25", "2.25", "0.35"]


def test_cold_start_without_answer_times_gives_no_verdict() -> None:
    run = Result(12.0, 3.0, 0, SUMMARY, marks={"first_result": 5.6})

    table = cold_start.readiness_table({"generated": [run]})
    cells = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]

    # the gap's verdict, then no answer times
    assert cells[10:14] == ["ok", "-", "-", "-"]


def test_cold_start_reads_the_controls_readiness_as_the_harness_is_read() -> None:
    output = "1 passed in 3.10s\npeer: postgres ready 2.840 s; first result 0.020 s after\n"
    marks = {"collected": 0.6, "testloop": 0.6, "setup_done": 3.5, "first_result": 3.82}
    run = Result(4.6, 1.0, 0, output, marks=marks)

    cold_start.mark_peer_readiness(run)
    table = cold_start.readiness_table({cold_start.PEER: [run]})
    cells = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]

    assert run.marks["ready:postgres"] == pytest.approx(3.80)
    assert cells[1:6] == ["2.84", "-", "-", "-", "2.84"]
    # gap 3.82 - 2.84; first result 0.02 s after PostgreSQL answered
    assert cells[6:7] + cells[9:13] == ["3.82", "0.98", "over", "0.02", "ok"]


def test_scaling_speed_up_is_compared_with_the_controls() -> None:
    def runs(wall: float, per_test_ms: float, cpu: float = 1.0) -> list[Result]:
        return [result(wall, cpu, median_ms=per_test_ms)]

    results = {
        1: {
            "generated rollback": runs(6.0, 2.3, cpu=3.0),
            "generated none": runs(5.0, 2.0),
            "candidate rollback": runs(5.0, 2.2, cpu=2.4),
            "candidate none": runs(5.0, 1.8),
            "control rollback": runs(4.0, 1.5, cpu=2.0),
        },
        2: {
            "generated rollback": runs(4.0, 2.5),
            "generated none": runs(3.5, 2.2),
            "candidate rollback": runs(2.5, 2.4),
            "candidate none": runs(3.0, 2.0),
            "control rollback": runs(2.5, 1.6),
        },
    }

    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in scaling.scaling_table(results).splitlines()[2:]
    }

    rollback = rows["generated rollback"]
    assert rollback[3] == "1.50"  # 6.0 / 4.0
    assert rollback[4] == "0.94"  # 1.5 / (4.0 / 2.5)
    assert rollback[7] == "0.30"  # 2.3 - 2.0 ms over no isolation
    assert rollback[8] == "3.00"
    assert rollback[9] == "1.50"  # CPU 3.0 / the control's 2.0
    assert rollback[10] == "ok; overhead ok"
    assert rows["control rollback"][4] == "-"
    # A candidate is read against the same control, and its own `none`.
    candidate = rows["candidate rollback"]
    assert candidate[4] == "1.25"  # (5.0 / 2.5) / (4.0 / 2.5)
    assert candidate[7] == "0.40"  # 2.2 - 1.8
    assert candidate[9] == "1.20"  # 2.4 / 2.0
    assert candidate[10] == "ok; overhead ok"


def test_bars_are_those_of_the_issues() -> None:
    assert inner_loop.INNER_LOOP_BAR == 1.15
    assert inner_loop.COLLECT_ONLY_BAR == 1.5
    assert (peers.WALL_BAR, peers.CPU_BAR) == (1.0, 1.1)
    assert cold_start.GAP_BAR == 0.5
    assert (scaling.SPEEDUP_BAR, scaling.ROLLBACK_OVERHEAD_BAR_MS) == (0.9, 0.5)
