"""Nodes killed or stalled while an export runs (issue "Faults": node SIGKILL mid-export at RF=2 and
RF=1, files and Iceberg; ``count`` with a node down; a stalled replica with a short timeout).

Exports are throttled (one range at a time, one stream, small pages) so the fault lands mid-way;
each case checks that it did (the export was still running, ranges were left) and then compares
the exported rows, key and value, with the table's."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.faults.conftest import (
    ROWS,
    FaultCluster,
    expected_rows,
    finish,
    run_cli,
    start_cli,
    wait_for,
)

THROTTLE = ["--splits", "16", "--range-workers", "1", "--streams", "1", "--page-size", "10", "--no-progress"]


def _parquet_rows(directory: Path) -> list[tuple[int, int, str]]:
    table = pq.read_table(sorted(directory.glob("*.parquet")))
    return list(
        zip(table.column("k").to_pylist(), table.column("c").to_pylist(), table.column("v").to_pylist(), strict=True)
    )


def _iceberg_rows(warehouse: Path, name: str) -> list[tuple[int, int, str]]:
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    table = load_catalog(IcebergOptions(warehouse=str(warehouse))).load_table(name).scan().to_arrow()
    return list(
        zip(table.column("k").to_pylist(), table.column("c").to_pylist(), table.column("v").to_pylist(), strict=True)
    )


def _ranges_done(progress: Path) -> int:
    try:
        return int(json.loads(progress.read_text())["ranges_done"])
    except (OSError, ValueError, KeyError):
        return 0


def _exports(fc: FaultCluster, keyspace: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    """An Iceberg export and a Parquet export of ``keyspace.kv``, each started once the one before
    has finished a range (Iceberg commits make it the slower one), both running when this returns."""
    procs = {}
    for kind in ("iceberg", "files"):
        dest = (
            ["--url", str(tmp_path / "files")]
            if kind == "files"
            else ["--to", "iceberg", "--warehouse", str(tmp_path / "wh")]
        )
        progress = tmp_path / f"{kind}.progress.json"
        proc = start_cli(
            "export", "-h", fc.hosts, "-t", f"{keyspace}.kv", *dest, *THROTTLE, "--progress-file", str(progress), *extra
        )
        procs[kind] = (proc, progress)
        wait_for(lambda p=progress: _ranges_done(p) >= 1, 120, f"{kind} export: a first range", proc)
    return procs


def _assert_mid_way(procs: dict[str, Any]) -> None:
    for kind, (proc, progress) in procs.items():
        assert proc.poll() is None and _ranges_done(progress) < 16, f"the fault should land mid-{kind}-export"


def test_node_killed_mid_export_at_rf2_exports_exact_rows_and_count_holds(
    fault_cluster: FaultCluster, source_tables: dict[int, str], tmp_path: Path
) -> None:
    """RF=2: a killed node's pages are asked again from their paging state on the other replica;
    both exports finish (exit 0) with exactly the table's rows, and ``count`` with the node still
    down counts them all."""
    keyspace = source_tables[2]
    procs = _exports(fault_cluster, keyspace, tmp_path)
    try:
        fault_cluster.kill(3)
        _assert_mid_way(procs)
        for kind, (proc, _) in procs.items():
            code, _out, err = finish(proc)
            assert code == 0, f"{kind} export: {err[-2000:]}"
        want = sorted(expected_rows())
        assert sorted(_parquet_rows(tmp_path / "files")) == want
        assert sorted(_iceberg_rows(tmp_path / "wh", f"{keyspace}.kv")) == want
        counted = run_cli("count", "-h", fault_cluster.hosts, "-t", f"{keyspace}.kv", "--splits", "16")
        assert counted.returncode == 0, counted.stderr[-2000:]
        assert counted.stdout.strip().splitlines()[-1] == str(ROWS)
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
        fault_cluster.heal()


def test_node_killed_mid_export_at_rf1_fails_naming_ranges_then_resume_is_exact(
    fault_cluster: FaultCluster, source_tables: dict[int, str], tmp_path: Path
) -> None:
    """RF=1: nowhere else to read the dead node's ranges from. Both exports fail after the retry
    budget (exit 4) with one line naming the ranges left; ``count`` fails too. Once the node is back,
    ``--resume`` finishes them and the result equals the table, row for row, no duplicates."""
    keyspace = source_tables[1]
    # A short retry time: the default (60 s per failing page, for a stalled replica to be
    # convicted) would make the dead node's ranges, one after the other here, outlast the test.
    procs = _exports(fault_cluster, keyspace, tmp_path, "--retry-seconds", "5")
    try:
        fault_cluster.kill(3)
        _assert_mid_way(procs)
        for kind, (proc, _) in procs.items():
            code, _out, err = finish(proc)
            assert code == 4, f"{kind} export should fail: exit {code}: {err[-2000:]}"
            assert "Traceback" not in err
            # The failed ranges by id (what `--ranges` takes), and the first failure's token bounds.
            assert re.search(r"\d+ of 16 range\(s\) failed \(r\d\d-of-16", err), f"{kind}: {err[-2000:]}"
            assert "tokens (" in err, f"{kind}: {err[-2000:]}"
        counted = run_cli("count", "-h", fault_cluster.hosts, "-t", f"{keyspace}.kv", "--splits", "16")
        assert counted.returncode == 4 and "Traceback" not in counted.stderr, counted.stderr[-2000:]
        assert re.search(r"range r\d\d-of-16 tokens \(", counted.stderr), counted.stderr[-2000:]
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
        fault_cluster.heal()
    common = ["-h", fault_cluster.hosts, "-t", f"{keyspace}.kv", "--splits", "16", "--no-progress", "--resume"]
    files = run_cli("export", *common, "--url", str(tmp_path / "files"))
    assert files.returncode == 0, files.stderr[-2000:]
    ice = run_cli("export", *common, "--to", "iceberg", "--warehouse", str(tmp_path / "wh"))
    assert ice.returncode == 0, ice.stderr[-2000:]
    want = sorted(expected_rows())
    assert sorted(_parquet_rows(tmp_path / "files")) == want
    assert sorted(_iceberg_rows(tmp_path / "wh", f"{keyspace}.kv")) == want


def test_stalled_replica_with_a_short_timeout_never_waits_for_it_nor_truncates(
    fault_cluster: FaultCluster, source_tables: dict[int, str], tmp_path: Path
) -> None:
    """RF=2, node 2 stopped (SIGSTOP) mid-export for up to 90 s, ``--request-timeout 1``: every page
    fetch, not only a sub-range's first, times out and is asked again from its paging state on the
    other replica, so the export ends while the node is still stopped (it used to wait for the
    node). It ends exact (exit 0), or, when a retried page's coordinator still forwarded to the
    stopped replica until gossip convicted it (SimpleSnitch keeps ring order), with the ranges
    named (exit 4), and ``--resume`` after the node is back is exact: never fewer rows."""
    keyspace = source_tables[2]
    progress = tmp_path / "progress.json"
    args = ["export", "-h", fault_cluster.hosts, "-t", f"{keyspace}.kv", "--url", str(tmp_path / "files")]
    proc = start_cli(*args, *THROTTLE, "--request-timeout", "1", "--progress-file", str(progress))
    try:
        wait_for(lambda: _ranges_done(progress) >= 1, 120, "a first range", proc)
        fault_cluster.pause(2)
        stalled_at = time.monotonic()
        assert proc.poll() is None and _ranges_done(progress) < 16, "the stall should land mid-export"
        code, _out, err = finish(proc, timeout=90)
        took = time.monotonic() - stalled_at
        assert 2 in fault_cluster.stopped, "the export must end while the replica is still stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        fault_cluster.heal()
    assert took < 90
    assert code in (0, 4), err[-2000:]
    if code == 4:
        assert re.search(r"\d+ of 16 range\(s\) failed", err) and "Traceback" not in err, err[-2000:]
        resumed = run_cli(*args, "--splits", "16", "--no-progress", "--resume")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(_parquet_rows(tmp_path / "files")) == sorted(expected_rows())
