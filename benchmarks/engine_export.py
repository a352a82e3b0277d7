"""Engine export throughput and memory on the local node: rows/s, MB/s, CPU s per million rows, peak RSS.

    uv run python -m benchmarks.engine_export --rows 1000000 --formats parquet,csv

Fills ``bench.events_<rows>`` once (kept between runs), then runs the real ``cassandra-bulk export``
in a child process per format, and DSBulk's ``unload`` to CSV as the peer (``dsbulk-csv``, see
``tools/dsbulk.py``), reading each child's resource usage with ``wait4`` (that child alone).
Figures only: no pass/fail. On a 2-core machine Cassandra and the exporter share the cores, so
compare ratios between runs of the same machine, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType

from cassandra_bulk_core import ConnectionConfig
from tools.local_cassandra import acquire

ROWS_PER_PARTITION = 100
SCHEMA = """CREATE TABLE IF NOT EXISTS bench.{table} (
    p int, c int, id uuid, name text, amount bigint, score double, ok boolean, at timestamp, note text,
    PRIMARY KEY ((p), c))"""


def fill(session: object, table: str, rows: int) -> float:
    started = time.monotonic()
    insert = session.prepare(  # type: ignore[attr-defined]
        f"INSERT INTO bench.{table} (p, c, id, name, amount, score, ok, at, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    at = 1_700_000_000_000

    def batches():  # one unlogged batch per partition: the fastest way in with the Python driver
        for p in range((rows + ROWS_PER_PARTITION - 1) // ROWS_PER_PARTITION):
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for c in range(min(ROWS_PER_PARTITION, rows - p * ROWS_PER_PARTITION)):
                i = p * ROWS_PER_PARTITION + c
                batch.add(
                    insert,
                    (
                        p,
                        c,
                        uuid.UUID(int=i),
                        f"name-{i}",
                        i * 7,
                        i / 3,
                        i % 2 == 0,
                        at + i,
                        "lorem ipsum dolor sit amet",
                    ),
                )
            yield batch, ()

    results = execute_concurrent(session, batches(), concurrency=16, results_generator=True)
    failed = sum(1 for ok, _ in results if not ok)
    if failed:
        raise SystemExit(f"{failed} batches failed while filling")
    return time.monotonic() - started


def run_export(host: str, table: str, fmt: str, dest: Path, extra: list[str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "export", "-h", host, "-t", f"bench.{table}", "--no-progress"]
    if fmt == "dsbulk-csv":  # the peer: DSBulk unload to CSV
        from tools import dsbulk

        cmd = dsbulk.command(
            "unload",
            "-k",
            "bench",
            "-t",
            table,
            "-url",
            str(dest),
            "-h",
            host,
            "-logDir",
            str(dest.with_name(dest.name + "-logs")),
        )
    elif fmt == "iceberg":  # embedded SQLite catalog, warehouse in dest
        cmd += ["--to", "iceberg", "--warehouse", str(dest), *extra]
    else:
        cmd += ["--format", fmt, "--url", str(dest), *extra]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    if status != 0:
        raise SystemExit(f"export failed ({status}): {' '.join(cmd)}")
    if fmt == "dsbulk-csv":
        files = [f for f in dest.glob("output-*.csv")]
        rows = sum(sum(1 for _ in f.open("rb")) - 1 for f in files)  # minus each file's header
        files_bytes = sum(f.stat().st_size for f in files)
    else:
        summary = json.loads(out.strip().splitlines()[-1])
        files_bytes = sum(f.stat().st_size for f in dest.rglob("*-part-*"))
        rows = summary["rows"]
    return {
        "rows": rows,
        "seconds": wall,
        "rows_per_s": rows / wall,
        "mb_per_s": files_bytes / wall / 1e6,
        "output_mb": files_bytes / 1e6,
        "cpu_s_per_m_rows": (usage.ru_utime + usage.ru_stime) / rows * 1e6,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument(
        "--formats",
        default="parquet,csv,iceberg,dsbulk-csv",
        help="parquet, csv, jsonl, iceberg (ours) and dsbulk-csv (the peer)",
    )
    parser.add_argument("--splits", type=int, default=16)
    parser.add_argument("--extra", default="", help="extra export flags, e.g. '--range-workers 2 --streams 4'")
    args = parser.parse_args()
    target = acquire(name="local", nodes=1, base_address=1, keep_running=True)
    host = target.contact_points[0]
    cluster, session = ConnectionConfig(contact_points=host, request_timeout=120).connect()
    session.execute(
        "CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    results = []
    for rows in args.rows:
        table = f"events_{rows}"
        session.execute(SCHEMA.format(table=table))
        have = session.execute(f"SELECT count(*) FROM bench.{table}", timeout=600).one()[0]
        if have != rows:
            session.execute(f"TRUNCATE bench.{table}", timeout=120)
            took = fill(session, table, rows)
            print(f"filled bench.{table}: {rows:,} rows in {took:.0f}s ({rows / took:,.0f} rows/s)", flush=True)
        subprocess.run(
            [sys.executable, "-m", "tools.local_cassandra", "status"], check=False, stdout=subprocess.DEVNULL
        )
        for fmt in args.formats.split(","):
            dest = Path(tempfile.mkdtemp(prefix=f"bench-{fmt}-"))
            try:
                r = run_export(host, table, fmt, dest, [f"--splits={args.splits}", *args.extra.split()])
            finally:
                shutil.rmtree(dest, ignore_errors=True)
                shutil.rmtree(dest.with_name(dest.name + "-logs"), ignore_errors=True)
            results.append({"table_rows": rows, "format": fmt, **r})
            print(json.dumps(results[-1]), flush=True)
    cluster.shutdown()
    print()
    print(
        f"{'rows':>10} {'format':8} {'seconds':>8} {'rows/s':>10} {'MB/s':>7} {'out MB':>8} "
        f"{'CPU s/Mrow':>10} {'peak RSS MB':>11}"
    )
    for r in results:
        print(
            f"{r['table_rows']:>10,} {r['format']:8} {r['seconds']:>8.1f} {r['rows_per_s']:>10,.0f} "
            f"{r['mb_per_s']:>7.1f} {r['output_mb']:>8.1f} {r['cpu_s_per_m_rows']:>10.1f} {r['peak_rss_mb']:>11.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
