"""The load checkpoint notes acknowledged records and writes itself at a bounded interval (issue
"Faults", item 8); the CLI's ``--checkpoint-interval`` spec."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import pytest

from cassandra_bulk_core.cli.load import checkpoint_interval
from cassandra_bulk_core.load.checkpoint import Checkpoint, Intervals


def test_intervals_cover_only_inside_one_span() -> None:
    spans = Intervals([[0, 10], [12, 20]])
    assert spans.covers(0, 10) and spans.covers(12, 13) and spans.covers(19, 20)
    assert not spans.covers(9, 12) and not spans.covers(10, 11) and not spans.covers(20, 21)
    assert not Intervals().covers(0, 1)


def test_acknowledged_records_reach_the_file_by_time_and_by_count(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    cp = Checkpoint(str(path), "fp", "op", 1)
    cp.start_saver(seconds=0.2, records=1_000_000)
    try:
        cp.ack(("f.csv", o) for o in (0, 1, 2, 5, 3))  # out of order, a hole at 4
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not path.exists():
            time.sleep(0.05)
        time.sleep(0.5)
        assert json.loads(path.read_text())["resources"]["f.csv"]["done"] == [[0, 4], [5, 6]]
    finally:
        cp.stop_saver()
    by_count = Checkpoint(str(tmp_path / "count.json"), "fp", "op", 1)
    by_count.start_saver(seconds=3600, records=3)
    try:
        by_count.ack([("g.csv", 7), ("g.csv", 8), ("g.csv", 9)])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (tmp_path / "count.json").exists():
            time.sleep(0.05)
        assert json.loads((tmp_path / "count.json").read_text())["resources"]["g.csv"]["done"] == [[7, 10]]
    finally:
        by_count.stop_saver()


def test_checkpoint_interval_spec() -> None:
    assert checkpoint_interval("5s,50000") == (5.0, 50_000)
    assert checkpoint_interval("0.5s") == (0.5, 50_000)
    assert checkpoint_interval("1000") == (5.0, 1000)
    for bad in ("0s", "-1", "fast", "5m"):
        with pytest.raises(click.BadParameter):
            checkpoint_interval(bad)
