"""Races between Dagster runs over overlapping partitions (issue "Faults and security"): two run
processes, one Dagster instance directory and one Iceberg warehouse (SQLite catalog) between them,
each round's two runs started together over overlapping token-range partitions of the
Cassandra→Iceberg asset. Both runs must succeed and the Iceberg table must then hold exactly the
Cassandra table's rows: every row once, none twice, none lost.

The engine side of it (two committers of one range, reload and replace) is
``tests/integration/test_iceberg_faults.py``; here the whole path runs: Dagster's run storage and
event log written by two processes at once, the first export of a fresh warehouse from both (namespace
and table created once), then replace-commits of the same ranges racing each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.faults.conftest import FaultCluster, expected_rows

SPLITS = 8
ROUNDS = [
    (("r0-of-8", "r7-of-8"), ("r0-of-8", "r7-of-8")),  # into a fresh warehouse: both create the table
    (("r0-of-8", "r5-of-8"), ("r2-of-8", "r7-of-8")),
    (("r3-of-8", "r7-of-8"), ("r0-of-8", "r4-of-8")),
]
"""Per round, the partition ranges of run A and of run B: 8, then 4, then 2 ranges in common."""

REPO = Path(__file__).resolve().parents[2]


def _index(range_id: str) -> int:
    return int(range_id[1:].split("-", 1)[0])


def _iceberg_rows(warehouse: Path, identifier: str) -> list[tuple[int, int, str]]:
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    data = load_catalog(IcebergOptions(warehouse=str(warehouse))).load_table(identifier).scan().to_arrow()
    return list(zip(*(data.column(c).to_pylist() for c in ("k", "c", "v")), strict=True))


def _wait_for(files: list[Path], procs: list[subprocess.Popen[bytes]], timeout: float, what: str) -> None:
    """Until each ``files[i]`` (written by ``procs[i]``) exists; a process that ended without
    writing its file fails the test with its output."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in files):
        for path, proc in zip(files, procs, strict=True):
            if proc.poll() is not None and not path.exists():
                raise AssertionError(f"{what}: a run process ended (exit {proc.returncode}): {_log_tail(proc)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.02)


def _log_tail(proc: subprocess.Popen[bytes]) -> str:
    """The end of a run process's output (``_start_worker`` sends it to a file named in its env)."""
    log = Path(str(proc.args[-1]))
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _start_worker(name: str, rounds: list[tuple[str, str]], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A run process; its output (Dagster logs every event) goes to ``<sync dir>/<name>.log``, not to
    a pipe nobody reads while the rounds run."""
    log = Path(env["CB_RACE_DIR"]) / f"{name}.log"
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.faults.dagster_race_worker", name, str(log)],
            env={**env, "CB_RACE_ROUNDS": json.dumps(rounds)},
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def test_two_dagster_runs_over_overlapping_partitions_both_succeed_with_exact_rows(
    fault_cluster: FaultCluster, source_tables: dict[int, str], tmp_path: Path
) -> None:
    from dagster import DagsterInstance, DagsterRunStatus

    keyspace = source_tables[2]
    sync, home, warehouse = tmp_path / "sync", tmp_path / "dagster_home", tmp_path / "wh"
    sync.mkdir()
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "CB_RACE_DIR": str(sync),
        "CB_RACE_HOSTS": fault_cluster.hosts,
        "CB_RACE_KEYSPACE": keyspace,
        "CB_RACE_SPLITS": str(SPLITS),
        "CB_RACE_WAREHOUSE": str(warehouse),
        "CB_RACE_DAGSTER_HOME": str(home),
        "DAGSTER_HOME": str(home),
    }
    # The instance's storage exists before any run, as under a webserver or daemon that launches run
    # processes (two processes creating a fresh instance's SQLite schemas at once is not the case here).
    DagsterInstance.from_config(str(home)).dispose()
    names = ("a", "b")
    procs = [_start_worker(name, [pair[i] for pair in ROUNDS], env) for i, name in enumerate(names)]
    expected = sorted(expected_rows())
    run_ids: list[str] = []
    try:
        for index in range(len(ROUNDS)):
            _wait_for([sync / f"{n}-ready-{index}" for n in names], procs, 120, f"round {index}: both ready")
            (sync / f"go-{index}").touch()
            done = [sync / f"{n}-done-{index}.json" for n in names]
            _wait_for(done, procs, 240, f"round {index}: both runs done")
            outcomes: list[dict[str, Any]] = [json.loads(p.read_text()) for p in done]
            for name, outcome, (first, last) in zip(names, outcomes, ROUNDS[index], strict=True):
                assert outcome["success"], f"round {index}, run {name}: {outcome.get('error', '')[-3000:]}"
                held = [f"r{i}-of-{SPLITS}" for i in range(_index(first), _index(last) + 1)]
                assert outcome["partitions"] == sorted(held), outcome  # one materialization per partition
            # the two runs really ran side by side: each started before the other ended
            a, b = outcomes
            assert a["started"] < b["started"] + b["seconds"] and b["started"] < a["started"] + a["seconds"]
            run_ids += [o["run_id"] for o in outcomes]
            rows = _iceberg_rows(warehouse, f"{keyspace}.kv")
            assert len(rows) == len(expected), f"round {index}: {len(rows)} rows, expected {len(expected)}"
            assert sorted(rows) == expected, f"round {index}: the Iceberg rows differ from Cassandra's"
        for proc in procs:
            assert proc.wait(timeout=60) == 0, _log_tail(proc)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    instance = DagsterInstance.from_config(str(home))
    runs = {run_id: instance.get_run_by_id(run_id) for run_id in run_ids}
    assert len(runs) == 2 * len(ROUNDS)
    assert all(r is not None and r.status == DagsterRunStatus.SUCCESS for r in runs.values())
