"""The README's first command (``make demo``): a local node, a sample table, the engine on it.

Starts (or reuses) the local single node of ``make cassandra-up``, creates ``demo.events`` with a
few thousand rows of mixed types, then runs the real ``cassandra-bulk`` command line on it and
checks its answer against what was inserted. The node keeps running afterwards so you can try the
CLI yourself; ``make cassandra-down`` stops it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core import ConnectionConfig
from tools.local_cassandra import acquire

ROWS = int(os.environ.get("DEMO_ROWS", "5000"))

SCHEMA = """
CREATE TABLE IF NOT EXISTS demo.events (
    device_id uuid, at timestamp, seq int, kind text, amount decimal, ratio double, big varint,
    ok boolean, payload blob, source inet, day date, tags set<text>, attrs map<text, int>,
    readings list<float>, embedding vector<float, 3>,
    PRIMARY KEY ((device_id), at, seq)
)"""


def _rows(n: int) -> list[tuple[object, ...]]:
    base = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    devices = [uuid.UUID(int=d + 1) for d in range(max(1, n // 10))]
    return [
        (
            devices[i % len(devices)],
            base + dt.timedelta(minutes=i),
            i,
            ["click", "view", "buy"][i % 3],
            decimal.Decimal(i) / 7,
            i / 3,
            2**70 + i,
            i % 2 == 0,
            bytes([i % 256]) * 8,
            str(ipaddress.ip_address(f"10.0.{i % 256}.{(i // 256) % 256}")),
            (base + dt.timedelta(days=i % 400)).date(),
            {f"t{i % 4}", "all"},
            {"a": i, "b": -i},
            [float(i), 0.5],
            [0.1 * (i % 10), 1.0, -1.0],
        )
        for i in range(n)
    ]


def _cli(*args: str) -> subprocess.CompletedProcess[str] | None:
    """Run the real command line, show it, and return its output (None after printing its error)."""
    print("demo: $ cassandra-bulk " + " ".join(args))
    out = subprocess.run([sys.executable, "-m", "cassandra_bulk_core", *args], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return None
    return out


def _restore(target: object, warehouse: Path) -> bool:
    """Load the Iceberg table back into an empty copy of the table and compare every row."""
    cluster, session = ConnectionConfig(contact_points=tuple(target.contact_points), port=target.port).connect()  # type: ignore[attr-defined]
    try:
        session.execute("DROP TABLE IF EXISTS demo.events_restored")
        session.execute(SCHEMA.replace("demo.events", "demo.events_restored"))
        host = ["-h", target.contact_points[0], "--port", str(target.port)]  # type: ignore[attr-defined]
        out = _cli(
            "load",
            *host,
            "-t",
            "demo.events_restored",
            "--format",
            "iceberg",
            "--iceberg-table",
            "demo.events",
            "--warehouse",
            str(warehouse),
            "--log-dir",
            "out/logs",
            "--no-progress",
        )
        if out is None:
            return False
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        original = sorted(repr(tuple(r)) for r in session.execute("SELECT * FROM demo.events"))
        restored = sorted(repr(tuple(r)) for r in session.execute("SELECT * FROM demo.events_restored"))
        print(
            f"demo: loaded {summary['rows_written']} rows from Iceberg into demo.events_restored in "
            f"{summary['seconds']:.1f}s ({summary['rejected']} rejected); tables equal: {original == restored}"
        )
        return original == restored and summary["rows_written"] == ROWS
    finally:
        cluster.shutdown()


def _orchestrators(target: object) -> bool:
    """The same table through Dagster (all range partitions from the CLI) and Airflow (``airflow dags
    test``, one mapped task per range), each into its own warehouse; both must hold every row."""
    from examples.airflow.demo import run as airflow_run
    from examples.dagster.demo import run as dagster_run

    host, port = target.contact_points[0], target.port  # type: ignore[attr-defined]
    ok = True
    for name, run, warehouse in (
        ("Dagster", dagster_run, "out/dagster-warehouse"),
        ("Airflow", airflow_run, "out/airflow-warehouse"),
    ):
        t = time.monotonic()
        rows = run(host, port, "demo", "events", warehouse)
        print(
            f"demo: {name}: Iceberg table demo.events in {warehouse}/ holds {rows} rows ({time.monotonic() - t:.1f}s)"
        )
        ok = ok and rows == ROWS
    return ok


def main() -> int:
    t0 = time.monotonic()
    print("demo: starting (or reusing) a local Cassandra 5 node ...", flush=True)
    target = acquire(name="local", nodes=1, base_address=1, keep_running=True)
    print(f"demo: node up at {target.contact_points[0]}:{target.port} after {time.monotonic() - t0:.1f}s")

    cluster, session = ConnectionConfig(contact_points=tuple(target.contact_points), port=target.port).connect()
    try:
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS demo WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("DROP TABLE IF EXISTS demo.events")
        session.execute(SCHEMA)
        insert = session.prepare(
            "INSERT INTO demo.events (device_id, at, seq, kind, amount, ratio, big, ok, payload, source, day, tags,"
            " attrs, readings, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        t1 = time.monotonic()
        results = execute_concurrent_with_args(session, insert, _rows(ROWS), concurrency=64)
        failed = [r for ok, r in results if not ok]
        if failed:
            print(f"demo: {len(failed)} inserts failed, first: {failed[0]}", file=sys.stderr)
            return 1
        print(f"demo: inserted {ROWS} rows of mixed types into demo.events in {time.monotonic() - t1:.1f}s")
    finally:
        cluster.shutdown()

    base = ["-h", target.contact_points[0], "--port", str(target.port), "-t", "demo.events", "--splits", "16"]
    t2 = time.monotonic()
    out = _cli("count", *base)
    if out is None:
        return 1
    counted = int(out.stdout.strip())
    print(f"demo: cassandra-bulk counted {counted} rows over 16 token ranges in {time.monotonic() - t2:.1f}s")
    if counted != ROWS:
        print(f"demo: MISMATCH: inserted {ROWS}, counted {counted}", file=sys.stderr)
        return 1
    print(f"demo: OK: count matches the {ROWS} rows inserted")

    out_dir = Path(os.environ.get("DEMO_OUT", "out/demo-events"))
    out = _cli("export", *base, "--format", "parquet", "--url", str(out_dir), "--no-progress")
    if out is None:
        return 1
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    import pyarrow.parquet as pq

    table = pq.read_table(sorted(out_dir.glob("*.parquet")))
    print(
        f"demo: exported {summary['rows']} rows to {summary['files']} Parquet files in {out_dir}/ "
        f"({summary['bytes'] / 1e6:.1f} MB, {summary['seconds']:.1f}s); reading them back gives "
        f"{table.num_rows} rows, {table.num_columns} columns"
    )
    if table.num_rows != ROWS:
        print(f"demo: MISMATCH: inserted {ROWS}, Parquet holds {table.num_rows}", file=sys.stderr)
        return 1
    warehouse = Path(os.environ.get("DEMO_WAREHOUSE", "out/warehouse"))
    out = _cli("export", *base, "--to", "iceberg", "--warehouse", str(warehouse), "--no-progress")
    if out is None:
        return 1
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    table = load_catalog(IcebergOptions(warehouse=str(warehouse))).load_table("demo.events")
    scanned = table.scan().to_arrow()
    snapshot = table.current_snapshot()
    print(
        f"demo: Iceberg table demo.events in {warehouse}/ (SQLite catalog): a pyiceberg scan reads "
        f"{scanned.num_rows} rows; {len(table.snapshots())} snapshots, the last one "
        f"{snapshot.summary.additional_properties.get('cassandra-bulk.ranges') if snapshot else None}"
    )
    if scanned.num_rows != ROWS:
        print(f"demo: MISMATCH: inserted {ROWS}, Iceberg holds {scanned.num_rows}", file=sys.stderr)
        return 1
    sample = scanned.slice(0, 1).to_pylist()[0]
    print("demo: one row as pyiceberg reads it: " + ", ".join(f"{k}={v!r}" for k, v in list(sample.items())[:6]))
    if not _restore(target, warehouse):
        return 1
    if os.environ.get("DEMO_ORCHESTRATORS", "1") != "0" and not _orchestrators(target):
        return 1
    print(f"demo: OK (total {time.monotonic() - t0:.1f}s)")
    print(
        "demo: the node keeps running; try `uv run cassandra-bulk count -t demo.events --mode ranges`,"
        " stop it with `make cassandra-down`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
