"""``--processes N`` on the real node: the same data as one process, row for row; a worker that dies
fails its ranges by name and ``--resume`` completes them; Ctrl-C leaves no worker behind."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.events import Listener
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog
from cassandra_bulk_core.parallel import EXIT_ON_RANGE_ENV, Cancelled
from cassandra_bulk_core.scan import ScanOptions
from tests.alltypes import create_and_fill, random_rows
from tests.conftest import connection_config
from tests.integration.test_export import _parquet_rows

TIMEOUT = 300


def _cli(cassandra: Any, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = [sys.executable, "-m", "cassandra_bulk_core", *args[:1], "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port)]
    return subprocess.run([*base, *args[1:]], capture_output=True, text=True, timeout=TIMEOUT, env=env)


def _ok(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    try:
        return json.loads(res.stdout)  # count --json: one indented document
    except ValueError:
        return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture
def all_types(keyspace: str, session: Any) -> str:
    create_and_fill(session, keyspace, random_rows(2000, seed=11))
    return f"{keyspace}.all_types"


def _export(cassandra: Any, table: str, out: Path, processes: int, *extra: str, env: Any = None) -> Any:
    args = ["export", "-t", table, "--url", str(out), "--splits", "8", "--page-size", "100", "--no-progress"]
    return _cli(cassandra, *args, "--processes", str(processes), *extra, env=env)


def test_parquet_export_with_two_processes_equals_one(cassandra: Any, all_types: str, tmp_path: Path) -> None:
    one = _ok(_export(cassandra, all_types, tmp_path / "one", 1))
    progress = tmp_path / "progress.json"
    two = _ok(_export(cassandra, all_types, tmp_path / "two", 2, "--progress-file", str(progress)))
    assert one["rows"] == two["rows"] == 2000 and two["ranges"] == 8
    assert _parquet_rows(tmp_path / "two") == _parquet_rows(tmp_path / "one")
    manifest = json.loads((tmp_path / "two" / "_manifest.json").read_text())
    assert manifest["rows"] == 2000 and [r["id"] for r in manifest["ranges"]] == [f"r{i}-of-8" for i in range(8)]
    state = json.loads(progress.read_text())  # the workers' progress, summed in the parent
    assert state["rows"] == 2000 and state["ranges_done"] == 8 and state["ranges_failed"] == 0


def _iceberg_rows(warehouse: Path, ident: str) -> list[dict[str, Any]]:
    table = load_catalog(IcebergOptions(warehouse=str(warehouse))).load_table(ident).scan().to_arrow()
    rows = table.sort_by([("id", "ascending"), ("ck", "ascending")]).to_pylist()
    for row in rows:
        for k, v in row.items():
            if isinstance(v, float) and math.isnan(v):
                row[k] = "nan"
    return rows


@pytest.mark.parametrize("mode", ["mirror", "single"])
def test_iceberg_export_with_two_processes_equals_one(
    cassandra: Any, all_types: str, tmp_path: Path, mode: str
) -> None:
    wh = tmp_path / "wh"
    for processes, name in ((1, "ns.one"), (2, "ns.two")):
        args = ["--to", "iceberg", "--warehouse", str(wh), "--iceberg-table", name, "--mode", mode]
        summary = _ok(_export(cassandra, all_types, tmp_path / "unused", processes, *args))
        assert summary["rows"] == 2000
    one, two = _iceberg_rows(wh, "ns.one"), _iceberg_rows(wh, "ns.two")
    assert len(two) == 2000 and two == one
    table = load_catalog(IcebergOptions(warehouse=str(wh))).load_table("ns.two")
    committed = [s.summary.additional_properties.get("cassandra-bulk.ranges") for s in table.snapshots()]
    if mode == "mirror":  # one exactly-once commit per range, made by the workers
        assert {f"r{i}-of-8" for i in range(8)} <= set(committed)
    else:  # the workers stage, the parent makes the one commit
        assert committed == ["8 ranges"]


def test_count_with_two_processes_equals_one(cassandra: Any, all_types: str) -> None:
    args = ["count", "-t", all_types, "--splits", "8", "--json"]
    one = _ok(_cli(cassandra, *args))
    two = _ok(_cli(cassandra, *args, "--processes", "2"))
    assert one["total"] == two["total"] == 2000
    assert two["per_range"] == one["per_range"] and two["per_host"] == one["per_host"]


def test_dead_worker_fails_its_ranges_by_name_then_resume_completes(
    cassandra: Any, all_types: str, tmp_path: Path
) -> None:
    _ok(_export(cassandra, all_types, tmp_path / "clean", 1))
    crashed = tmp_path / "crashed"
    env = {**os.environ, EXIT_ON_RANGE_ENV: "r5-of-8"}
    res = _export(cassandra, all_types, crashed, 2, env=env)
    assert res.returncode == 4, res.stderr
    assert "Traceback" not in res.stderr
    error = [line for line in res.stderr.splitlines() if line.startswith("cassandra-bulk: error:")]
    assert len(error) == 1 and "worker process died" in error[0] and "r5-of-8" in error[0], res.stderr
    assert not (crashed / "_manifest.json").exists()
    assert not (crashed / "_ranges" / "r5-of-8.json").exists()
    resumed = _ok(_export(cassandra, all_types, crashed, 2, "--resume"))
    assert resumed["rows"] == 2000 and 0 < resumed["ranges_skipped"] < 8
    assert _parquet_rows(crashed) == _parquet_rows(tmp_path / "clean")


@pytest.fixture
def slow_table(keyspace: str, session: Any) -> str:
    session.execute(f"CREATE TABLE {keyspace}.s (p int, c int, v text, PRIMARY KEY ((p), c))")
    insert = session.prepare(f"INSERT INTO {keyspace}.s (p, c, v) VALUES (?, ?, ?)")
    execute_concurrent_with_args(session, insert, [(i // 10, i % 10, "x" * 20) for i in range(20_000)], concurrency=64)
    return f"{keyspace}.s"


def _wait_for_workers(pid: int, progress: Path, deadline: float) -> list[psutil.Process]:
    """The CLI's worker processes, once they are exporting (rows in the progress file)."""
    while time.monotonic() < deadline:
        children = psutil.Process(pid).children(recursive=True)
        rows = json.loads(progress.read_text())["rows"] if progress.exists() else 0
        if len(children) >= 2 and rows > 0:
            return children
        time.sleep(0.05)
    raise AssertionError("the workers never started exporting")


def test_ctrl_c_stops_every_worker(cassandra: Any, slow_table: str, tmp_path: Path) -> None:
    progress = tmp_path / "progress.json"
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "export", "-h", cassandra.contact_points[0]]
    cmd += ["--port", str(cassandra.port), "-t", slow_table, "--url", str(tmp_path / "out"), "--splits", "8"]
    cmd += ["--page-size", "10", "--streams", "1", "--processes", "2", "--no-progress"]
    cmd += ["--progress-file", str(progress)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        children = _wait_for_workers(proc.pid, progress, time.monotonic() + 120)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphan worker processes: {[p.pid for p in alive]}"
    assert not (tmp_path / "out" / "_manifest.json").exists()


def test_cancel_event_stops_the_workers(cassandra: Any, slow_table: str, tmp_path: Path) -> None:
    """An orchestrator's on_kill sets the scan's cancel event: the parent terminates its workers."""
    config = connection_config(cassandra)
    me = psutil.Process()
    # In CI the Cassandra nodes are this process's children too: only processes the export starts count.
    before = {p.pid for p in me.children(recursive=True)}
    cluster, session = config.connect()
    cancel = threading.Event()
    try:
        info = resolve_table(cluster, *slow_table.split("."))
        scan = ScanOptions(page_size=10, streams=1, cancel=cancel)
        options = ExportOptions(destination=str(tmp_path / "out"), splits=8, scan=scan)

        class CancelOnProgress(Listener):
            def on_progress(self, rows: int, bytes_: int) -> None:
                cancel.set()

        with pytest.raises(Cancelled):
            export_table(cluster, session, info, options, CancelOnProgress(), processes=2, connection=config)
    finally:
        cluster.shutdown()
    time.sleep(0.5)
    workers = [
        p
        for p in me.children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert not workers, [p.cmdline() for p in workers]
