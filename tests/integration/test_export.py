"""Export on the real node: every type, value by value, in each format; writetime/TTL; resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.io import Storage
from cassandra_bulk_core.scan import ScanOptions
from cassandra_bulk_core.sinks import SinkOptions
from tests.alltypes import COLUMNS, EDGE_ROWS, create_and_fill, random_rows, reference_rows
from tests.arrow_plain import column_plain
from tests.conftest import connection_config


@pytest.fixture
def all_types(cassandra: Any, keyspace: str, session: Any) -> tuple[Any, Any, Any, dict[tuple[int, str], dict]]:
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(300))
    cluster, sess = connection_config(cassandra).connect()
    expected = reference_rows(sess, keyspace)
    info = resolve_table(cluster, keyspace, "all_types")
    yield cluster, sess, info, expected
    cluster.shutdown()


def _parquet_rows(path: Path | Storage) -> dict[tuple[int, str], dict[str, Any]]:
    if isinstance(path, Storage):
        parts = [p for p in path.list() if p.endswith(".parquet")]
        tables = [pq.read_table(path.open_input(p)) for p in parts]
        table = pa.concat_tables(tables) if tables else None
    else:
        files = sorted(p for p in path.glob("*.parquet"))
        table = pq.read_table(files) if files else None
    assert table is not None
    cols = {
        f.name: column_plain(table.column(f.name), (f.metadata or {}).get(b"cql_type", b"").decode())
        for f in table.schema
    }
    rows = {}
    for i in range(table.num_rows):
        key = (cols["id"][i], cols["ck"][i])
        assert key not in rows, f"duplicate row {key}"
        rows[key] = {c: cols[c][i] for c in cols}
    return rows


def test_parquet_export_equals_driver_values_for_every_type(all_types: Any, tmp_path: Path) -> None:
    cluster, sess, info, expected = all_types
    result = export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path), splits=7))
    assert result.rows == len(expected)
    got = _parquet_rows(tmp_path)
    assert set(got) == set(expected)
    for key, row in expected.items():
        for col in COLUMNS:
            assert got[key][col] == row[col], f"{key} {col}: parquet {got[key][col]!r} != cassandra {row[col]!r}"
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert manifest["rows"] == len(expected) and manifest["ranges"][0]["id"] == "r0-of-7"
    schema = {c["name"]: c["cql_type"] for c in manifest["schema"]}
    assert schema["fl"] == "frozen<list<frozen<map<text, frozen<addr>>>>>"


def test_writetime_and_ttl_columns(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.w (k int PRIMARY KEY, a text, b int, c list<int>)")
    session.execute(f"INSERT INTO {keyspace}.w (k, a, b, c) VALUES (1, 'x', 1, [1]) USING TIMESTAMP 1000 AND TTL 5000")
    session.execute(f"UPDATE {keyspace}.w USING TIMESTAMP 2000 SET b = 2 WHERE k = 1")
    session.execute(f"INSERT INTO {keyspace}.w (k, a) VALUES (2, 'y') USING TIMESTAMP 3000")
    cluster, sess = connection_config(cassandra).connect()
    try:
        info = resolve_table(cluster, keyspace, "w")
        opts = ExportOptions(destination=str(tmp_path / "all"), splits=3, scan=ScanOptions(writetime=True))
        export_table(cluster, sess, info, opts)
        table = pq.read_table(sorted((tmp_path / "all").glob("*.parquet"))).sort_by("k")
        assert "writetime(c)" not in table.schema.names  # a non-frozen list has no single writetime
        assert table.column("writetime(a)").cast("int64").to_pylist() == [1000, 3000]
        assert table.column("writetime(b)").cast("int64").to_pylist() == [2000, None]
        ttl = table.column("ttl(a)").to_pylist()
        assert 4900 < ttl[0] <= 5000 and ttl[1] is None
        # Incremental: rows with a cell written at or after 2000 µs.
        opts = ExportOptions(destination=str(tmp_path / "inc"), splits=3, scan=ScanOptions(written_after=2000))
        result = export_table(cluster, sess, info, opts)
        assert result.rows == 2
        opts = ExportOptions(destination=str(tmp_path / "inc2"), splits=3, scan=ScanOptions(written_after=2500))
        assert export_table(cluster, sess, info, opts).rows == 1
    finally:
        cluster.shutdown()


def test_rerunning_a_range_replaces_its_files(all_types: Any, tmp_path: Path) -> None:
    cluster, sess, info, expected = all_types
    small = SinkOptions(max_rows_per_file=20)
    export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path), splits=4, sink=small))
    before = sorted(p.name for p in tmp_path.glob("*.parquet"))
    # Same export with bigger files: fewer parts per range, and no stale part is left behind.
    export_table(
        cluster,
        sess,
        info,
        ExportOptions(destination=str(tmp_path), splits=4, sink=SinkOptions(max_rows_per_file=1000)),
    )
    after = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert len(after) == 4 and len(before) > 4
    assert len(_parquet_rows(tmp_path)) == len(expected)
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("where", ["local", "s3"])
def test_sigkill_mid_export_then_resume_equals_uninterrupted(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path, where: str, request: pytest.FixtureRequest
) -> None:
    create_and_fill(session, keyspace, random_rows(3000, seed=5))
    base = [sys.executable, "-m", "cassandra_bulk_core", "export", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "-t", f"{keyspace}.all_types", "--splits", "16"]
    base += ["--page-size", "50", "--range-workers", "1", "--streams", "1", "--no-progress"]
    env = dict(os.environ)
    if where == "s3":
        s3 = request.getfixturevalue("moto_s3")
        base += ["--s3-endpoint-url", s3.endpoint_url]
        env.update(AWS_ACCESS_KEY_ID=s3.access_key_id, AWS_SECRET_ACCESS_KEY=s3.secret_access_key)
        env.update(AWS_DEFAULT_REGION=s3.region, AWS_REGION=s3.region)
        full_uri, crashed_uri = s3.uri(), s3.uri()
        full, crashed = Storage(full_uri, s3.options), Storage(crashed_uri, s3.options)
    else:
        full_uri, crashed_uri = str(tmp_path / "full"), str(tmp_path / "crashed")
        full, crashed = Storage(full_uri), Storage(crashed_uri)
    subprocess.run([*base, "--url", full_uri], check=True, capture_output=True, env=env)
    proc = subprocess.Popen([*base, "--url", crashed_uri], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(crashed.list("_ranges")) < 3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(crashed.list("_ranges"))
    assert 3 <= done_before < 16, "the kill should land mid-export"
    resumed = [*base, "--url", crashed_uri, "--resume"]
    out = subprocess.run(resumed, check=True, capture_output=True, text=True, env=env)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["ranges_skipped"] >= done_before
    assert _parquet_rows(crashed) == _parquet_rows(full)


@pytest.mark.parametrize(("fmt", "compression"), [("csv", None), ("csv", "gzip"), ("jsonl", None), ("jsonl", "zstd")])
def test_text_exports_read_back_equal_to_driver_values(
    all_types: Any, tmp_path: Path, fmt: str, compression: str | None
) -> None:
    from cassandra_bulk_core.scan import TableScan
    from cassandra_bulk_core.text_codecs import read_csv, read_jsonl

    cluster, sess, info, expected = all_types
    opts = ExportOptions(destination=str(tmp_path), splits=5, sink=SinkOptions(format=fmt, compression=compression))
    result = export_table(cluster, sess, info, opts)
    assert result.rows == len(expected)
    schema = TableScan(cluster, sess, info).schema
    storage = Storage(str(tmp_path))
    tables = []
    for part in result.files:
        codec = {"gzip": "gzip", "zstd": "zstd"}.get(compression or "")
        stream = pa.CompressedInputStream(storage.open_input(part), codec) if codec else storage.open_input(part)
        if fmt == "csv":
            tables.append(read_csv(stream, schema))
        else:
            tables.append(read_jsonl(stream, schema))
    table = pa.concat_tables(tables)
    cols = {
        f.name: column_plain(table.column(f.name), (f.metadata or {}).get(b"cql_type", b"").decode())
        for f in table.schema
    }
    got = {(cols["id"][i], cols["ck"][i]): {c: cols[c][i] for c in cols} for i in range(table.num_rows)}
    assert len(got) == table.num_rows == len(expected)
    for key, row in expected.items():
        for col in COLUMNS:
            assert got[key][col] == row[col], f"{fmt} {key} {col}: {got[key][col]!r} != {row[col]!r}"


def test_cancel_event_stops_an_export_promptly(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    """What an orchestrator's on_kill uses: setting ScanOptions.cancel stops every stream within a poll."""
    import threading

    from cassandra_bulk_core import Listener
    from cassandra_bulk_core.export import ExportFailed
    from cassandra_bulk_core.scan import ScanCancelled

    create_and_fill(session, keyspace, random_rows(3000, seed=9))
    cancel = threading.Event()

    class CancelAfterFirstBatch(Listener):
        def on_progress(self, rows: int, bytes_: int) -> None:
            cancel.set()

    cluster, sess = connection_config(cassandra).connect()
    try:
        info = resolve_table(cluster, keyspace, "all_types")
        opts = ExportOptions(
            destination=str(tmp_path),
            splits=4,
            range_workers=1,
            scan=ScanOptions(page_size=20, streams=1, cancel=cancel),
        )
        started = time.monotonic()
        with pytest.raises(ExportFailed) as err:
            export_table(cluster, sess, info, opts, CancelAfterFirstBatch())
        assert time.monotonic() - started < 10
        assert isinstance(err.value.__cause__, ScanCancelled)
        assert len(list(tmp_path.glob("_ranges/*.json"))) == 0  # nothing is marked done
    finally:
        cluster.shutdown()
