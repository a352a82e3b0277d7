"""A load killed, or losing a node, mid-way; then ``--resume`` (issue "Faults", items 1, 2, 8, 14).

- item 8: the checkpoint is written at a bounded interval while a chunk is still being written, so
  a load SIGKILLed mid-chunk resumes from it and does not redo what was acknowledged;
- item 1: writes that failed (a node killed at RF=1) are never checkpointed as done: the resume
  writes exactly them, and the table ends equal to the source;
- item 2: ``--max-errors`` stops a load whose writes keep failing, promptly;
- item 14: the summary counts the retries (the driver's and ours) that the fault caused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    ROWS,
    FaultCluster,
    expected_rows,
    finish,
    run_cli,
    start_cli,
    summary_of,
    table_rows,
    wait_for,
)


@pytest.fixture(scope="module")
def csv_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ROWS rows as one CSV file: one resource, read as one chunk (the case where the old
    checkpoint stayed empty until the whole chunk was acknowledged)."""
    path = tmp_path_factory.mktemp("load") / "kv.csv"
    path.write_text("k,c,v\n" + "".join(f"{i // 2},{i % 2},v{i}\n" for i in range(ROWS)))
    return path


def _target(fc: FaultCluster, keyspace: str, name: str) -> str:
    cluster, session = fc.connect()
    try:
        session.execute(f"DROP TABLE IF EXISTS {keyspace}.{name}")
        session.execute(f"CREATE TABLE {keyspace}.{name} (k int, c int, v text, PRIMARY KEY ((k), c))")
    finally:
        cluster.shutdown()
    return f"{keyspace}.{name}"


def _checkpoint(logs: Path) -> dict[str, Any] | None:
    found = sorted(logs.glob("load_*/checkpoint.json"))
    if not found:
        return None
    try:
        return json.loads(found[-1].read_text())
    except (OSError, ValueError):
        return None


def _done(doc: dict[str, Any] | None) -> int:
    if not doc:
        return 0
    return sum(b - a for res in doc["resources"].values() for a, b in res["done"])


def _load_args(fc: FaultCluster, table: str, source: Path, logs: Path, *extra: str) -> list[str]:
    return ["load", "-h", fc.hosts, "-t", table, "--url", str(source), "--log-dir", str(logs), "--no-progress", *extra]


def test_killed_load_resumes_from_a_checkpoint_written_mid_chunk(
    fault_cluster: FaultCluster, source_tables: dict[int, str], csv_source: Path, tmp_path: Path
) -> None:
    table = _target(fault_cluster, source_tables[2], "load_killed")
    logs = tmp_path / "logs"
    args = _load_args(fault_cluster, table, csv_source, logs)
    proc = start_cli(*args, "--max-rows-per-second", "2000", "--checkpoint-interval", "0.5s,1000")
    try:
        wait_for(lambda: _done(_checkpoint(logs)) >= 4000, 120, "checkpointed progress", proc)
        doc = _checkpoint(logs)
        proc.kill()  # SIGKILL
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert doc is not None
    checkpointed = _done(doc)
    assert not any(r["complete"] for r in doc["resources"].values()), "the kill should land inside the one chunk"
    assert checkpointed < ROWS
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = summary_of(resumed.stdout)
    # What the checkpoint held (at least) is not written again; the rest is, once.
    assert summary["skipped_resumed"] >= checkpointed
    assert summary["rows_written"] == ROWS - summary["skipped_resumed"]
    assert summary["timestamp"] == doc["timestamp"]
    assert table_rows(fault_cluster, table) == expected_rows()
    # Record i of the file is written at the operation timestamp + i µs by both runs.
    cluster, session = fault_cluster.connect()
    try:
        times = {(r.k, r.c): r.wt for r in session.execute(f"SELECT k, c, writetime(v) AS wt FROM {table}")}
    finally:
        cluster.shutdown()
    assert all(wt == doc["timestamp"] + 2 * k + c for (k, c), wt in times.items())


def test_node_killed_mid_load_rf2_loses_nothing_rf1_stops_at_max_errors_then_resume_is_exact(
    fault_cluster: FaultCluster, source_tables: dict[int, str], csv_source: Path, tmp_path: Path
) -> None:
    """Two loads run while node 3 is killed: at RF=2 every write finds a live replica (exit 0,
    exact); at RF=1 the dead node's writes fail after their retries, the run stops at
    ``--max-errors 100`` (exit 5, within a bounded time), its summary counts the retries; after
    the node is back, ``--resume`` sends the failed and unsent rows: the table equals the source."""
    rf2 = _target(fault_cluster, source_tables[2], "load_node_killed")
    rf1 = _target(fault_cluster, source_tables[1], "load_node_killed")
    logs = {2: tmp_path / "logs2", 1: tmp_path / "logs1"}
    args = {
        2: _load_args(fault_cluster, rf2, csv_source, logs[2]),
        1: _load_args(fault_cluster, rf1, csv_source, logs[1], "--max-errors", "100"),
    }
    throttle = ["--max-rows-per-second", "1500", "--checkpoint-interval", "0.5s"]
    procs = {rf: start_cli(*a, *throttle) for rf, a in args.items()}
    try:
        for rf, proc in procs.items():
            wait_for(lambda rf=rf: _done(_checkpoint(logs[rf])) >= 2000, 120, f"RF={rf} load progress", proc)
        fault_cluster.kill(3)
        killed_at = time.monotonic()
        assert all(p.poll() is None for p in procs.values()), "the kill should land mid-load"
        code2, out2, err2 = finish(procs[2])
        code1, _out1, err1 = finish(procs[1])
        stopped_after = time.monotonic() - killed_at
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
        fault_cluster.heal()
    assert code2 == 0, err2[-2000:]
    assert summary_of(out2)["rows_written"] == ROWS
    assert table_rows(fault_cluster, rf2) == expected_rows()

    assert code1 == 5, f"exit {code1}: {err1[-2000:]}"
    assert "max_errors=100" in err1 and "Traceback" not in err1
    assert stopped_after < 150, f"--max-errors took {stopped_after:.0f}s to stop the load"
    first = json.loads(next(logs[1].glob("load_*/summary.json")).read_text())
    assert first["failed_writes"] > 100
    assert first["retries"] > 0, "the summary must count the retries the dead node caused"
    resumed = run_cli(*args[1], "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = summary_of(resumed.stdout)
    assert summary["errors"] == 0 and summary["skipped_resumed"] > 0
    assert table_rows(fault_cluster, rf1) == expected_rows()
