"""The slow tests run beside each other and count only what their own runs made: the
filters that tell their runs' names and containers from their neighbours' must let
through what is theirs (else a leak would go unseen) and nothing else."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from container_census import checkout_id, started_by
from server_state import RunWatch

OURS, THEIRS = "0123456789ab", "ba9876543210"


def start_run(root: Path, run_id: str, project: str) -> Path:
    """What a generated suite's run makes as it starts (harness/run_state.py)."""
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "owner.pid").write_text("1")
    (folder / "run.json").write_text(json.dumps({"project": project, "keep": False}))
    return folder


def test_a_watch_keeps_the_names_of_its_projects_runs_only(tmp_path: Path) -> None:
    start_run(tmp_path, THEIRS, "shop")
    with RunWatch("faults", root=tmp_path) as watch:
        start_run(tmp_path, OURS, "faults")
    names = [f"it:{OURS}:gw0:1f2e3d4c:k", f"it:{THEIRS}:gw0:aa:k", f"queues:it.{OURS}.main.x"]
    assert watch.names_of_runs(names) == [f"it:{OURS}:gw0:1f2e3d4c:k", f"queues:it.{OURS}.main.x"]


def test_a_watch_sees_a_run_that_came_and_went_while_it_watched(tmp_path: Path) -> None:
    with RunWatch("faults", root=tmp_path, interval=0.01) as watch:
        folder = start_run(tmp_path, OURS, "faults")
        time.sleep(0.2)  # a run lasts a second or more
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert watch.run_ids == {OURS}


def test_a_run_folder_without_run_json_yet_is_read_again_later(tmp_path: Path) -> None:
    folder = tmp_path / OURS
    folder.mkdir()
    watch = RunWatch("faults", root=tmp_path)
    watch.look()
    (folder / "run.json").write_text(json.dumps({"project": "faults"}))
    watch.look()
    assert watch.run_ids == {OURS}


def test_a_watch_that_saw_no_run_cannot_pass(tmp_path: Path) -> None:
    """Had the run been missed, every name would look like someone else's."""
    start_run(tmp_path, THEIRS, "shop")
    with RunWatch("faults", root=tmp_path) as watch:
        pass
    with pytest.raises(AssertionError, match="no run of project 'faults'"):
        watch.names_of_runs([f"it:{THEIRS}:gw0:aa:k"])


def test_the_checkout_id_is_the_one_the_harness_computes(tmp_path: Path) -> None:
    # harness/run_state.py: sha256 of the resolved tests/integration folder, 8 hex.
    import hashlib

    suite = tmp_path / "p" / "tests" / "integration"
    expected = hashlib.sha256(str(suite.resolve()).encode()).hexdigest()[:8]
    assert checkout_id(tmp_path / "p") == expected


@pytest.mark.parametrize(
    ("labels", "ours"),
    [
        ({"io.github.copier-integration-tests.checkout": "c0ffee12"}, True),
        ({"io.github.copier-integration-tests.checkout": "deadbeef"}, False),
        ({"com.docker.compose.project": "it-shop-c0ffee12-0123456789ab"}, True),
        ({"com.docker.compose.project": "it-my-shop-c0ffee12"}, True),  # kept
        ({"com.docker.compose.project": "it-shop-deadbeef-0123456789ab"}, False),
        ({"com.docker.compose.project": "it-c0ffee123-deadbeef"}, False),
        ({}, False),
    ],
)
def test_a_census_counts_the_containers_of_its_checkout_only(
    labels: dict[str, str], ours: bool
) -> None:
    assert started_by(labels, "c0ffee12") is ours


def test_the_watch_thread_stops_with_the_block(tmp_path: Path) -> None:
    before = threading.active_count()
    with RunWatch("faults", root=tmp_path, interval=0.01):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before
