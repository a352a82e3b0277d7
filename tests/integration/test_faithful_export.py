"""Issue "Faithful on every table": the export side of items 1, 2, 3, 6, 11, 12 and 15, on the real
node, each through the command line a user runs. References come from the server itself
(``toUnixTimestamp``, ``varintAsBlob``, ...), never from the engine's own conversions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.routing import require_murmur3

FORMATS = ["parquet", "csv", "json", "iceberg"]


def _cli(target: Any, *args: str) -> subprocess.CompletedProcess[str]:
    host = ["-h", target.contact_points[0], "--port", str(target.port)]
    return subprocess.run(
        [sys.executable, "-m", "cassandra_bulk_core", args[0], *host, *args[1:], "--no-progress"],
        capture_output=True,
        text=True,
    )


def _export(target: Any, table: str, fmt: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    where = ["--to", "iceberg", "--warehouse", str(out)] if fmt == "iceberg" else ["--format", fmt, "--url", str(out)]
    proc = _cli(target, "export", "-t", table, "--splits", "4", *where, *extra)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def _arrow(fmt: str, out: Path, table: str) -> pa.Table:
    """The exported rows as Arrow, read with pyarrow/pyiceberg (not the engine's readers)."""
    if fmt == "parquet":
        return pq.read_table(sorted(out.glob("*.parquet")))
    if fmt == "iceberg":
        from pyiceberg.catalog.sql import SqlCatalog

        catalog = SqlCatalog("default", uri=f"sqlite:///{out}/catalog.db", warehouse=f"file://{out}")
        return catalog.load_table(table).scan().to_arrow()
    raise AssertionError(fmt)


def _text_rows(fmt: str, out: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    if fmt == "csv":
        import csv

        for f in sorted(out.glob("*.csv")):
            rows += list(csv.DictReader(f.open()))
    else:
        for f in sorted(out.glob("*.jsonl")):
            rows += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return rows


@pytest.fixture
def edge(session: Any, keyspace: str) -> str:
    session.execute(
        f"CREATE TABLE {keyspace}.t (k int, c int, s text static, ts timestamp, vi varint, PRIMARY KEY (k, c))"
    )
    session.execute(f"INSERT INTO {keyspace}.t (k, s) VALUES (1, 'static only')")
    session.execute(
        f"INSERT INTO {keyspace}.t (k, c, ts, vi) VALUES (2, 1, '10000-01-01 00:00:01+0000', "
        "-123456789012345678901234567890123456789012345678901)"
    )
    session.execute(f"INSERT INTO {keyspace}.t (k, c, ts) VALUES (2, 2, -62167219200001)")
    session.execute(f"INSERT INTO {keyspace}.t (k, c, ts) VALUES (3, 1, 1234567890123)")
    return keyspace


def _reference(session: Any, keyspace: str) -> dict[tuple[int, int | None], tuple[int | None, str | None]]:
    out = {}
    for r in session.execute(f"SELECT k, c, toUnixTimestamp(ts) AS ms, varintAsBlob(vi) AS vb FROM {keyspace}.t"):
        vi = None if r.vb is None else str(int.from_bytes(r.vb, "big", signed=True))
        out[(r.k, r.c)] = (r.ms, vi)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_static_only_rows_far_timestamps_and_big_varints_export_exactly(
    cassandra: Any, session: Any, edge: str, tmp_path: Path, fmt: str
) -> None:
    """Items 1, 2, 3: a static-only partition (null clustering column), timestamps in years 10000
    and -1, and a 51-digit varint: every row exported, every value exact, in every format."""
    expected = _reference(session, edge)
    assert (1, None) in expected and len(expected) == 4
    out = tmp_path / fmt
    _export(cassandra, f"{edge}.t", fmt, out)
    got: dict[tuple[int, int | None], tuple[int | None, str | None]] = {}
    if fmt in ("parquet", "iceberg"):
        table = _arrow(fmt, out, f"{edge}.t")
        per_ms = 1000 if table.schema.field("ts").type.unit == "us" else 1
        for k, c, ts, vi in zip(
            table.column("k").to_pylist(),
            table.column("c").to_pylist(),
            table.column("ts").cast(pa.int64()).to_pylist(),
            table.column("vi").to_pylist(),
            strict=True,
        ):
            got[(k, c)] = (None if ts is None else ts // per_ms, vi)
        vi_type = table.schema.field("vi").type
        assert pa.types.is_string(vi_type) or pa.types.is_large_string(vi_type)
    else:
        for row in _text_rows(fmt, out):
            k, c = int(row["k"]), (None if row["c"] in ("", None) else int(row["c"]))
            got[(k, c)] = (_iso_ms(row["ts"]), None if row["vi"] in ("", None) else str(row["vi"]))
    assert got == expected


def _iso_ms(text: str | None) -> int | None:
    """ISO-8601 instant with a signed, possibly 5+ digit year, to epoch ms (independent of the engine)."""
    if text in ("", None):
        return None
    import re

    m = re.fullmatch(r"([+-]?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?Z", text)
    assert m, text
    year, month, day, hh, mm, ss = (int(g) for g in m.groups()[:6])
    ms = int((m.group(7) or "0").ljust(3, "0"))
    # days from civil (Howard Hinnant's algorithm), proleptic Gregorian, year 0 = 1 BC
    y = year - (month <= 2)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms


def test_empty_values_are_counted_and_reported(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    """Item 6: zero-length int/double/uuid/decimal/boolean/timestamp/varint values have no Arrow
    form; they are exported as null and the run says how many, per column (never silently)."""
    session.execute(
        f"CREATE TABLE {keyspace}.e (k int PRIMARY KEY, i int, d double, u uuid, de decimal, bo boolean, "
        "ts timestamp, vi varint, bi bigint, f float)"
    )
    session.execute(
        f"INSERT INTO {keyspace}.e (k, i, d, u, de, bo, ts, vi, bi, f) VALUES (1, blobAsInt(0x), blobAsDouble(0x), "
        "blobAsUuid(0x), blobAsDecimal(0x), blobAsBoolean(0x), blobAsTimestamp(0x), blobAsVarint(0x), "
        "blobAsBigint(0x), blobAsFloat(0x))"
    )
    session.execute(f"INSERT INTO {keyspace}.e (k, i) VALUES (2, 7)")
    proc = _export(cassandra, f"{keyspace}.e", "parquet", tmp_path / "e")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 2 and summary["empty_values_as_null"] == 9
    assert "9 EMPTY (zero-length) value(s)" in proc.stderr and "i: 1" in proc.stderr and "ts: 1" in proc.stderr
    table = pq.read_table(sorted((tmp_path / "e").glob("*.parquet")))
    rows = {r["k"]: r for r in table.to_pylist()}
    assert rows[2]["i"] == 7 and rows[1]["i"] is None


def test_float_and_double_keys_export_to_iceberg(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    """Item 11: NaN, ±Inf and -0.0 keys export; those columns are left out of the identifier
    fields, and the table property says why."""
    session.execute(f"CREATE TABLE {keyspace}.f (k double, c float, v int, PRIMARY KEY (k, c))")
    session.execute(f"INSERT INTO {keyspace}.f (k, c, v) VALUES (NaN, -0.0, 1)")
    session.execute(f"INSERT INTO {keyspace}.f (k, c, v) VALUES (-Infinity, NaN, 2)")
    session.execute(f"INSERT INTO {keyspace}.f (k, c, v) VALUES (1.5, 2.5, 3)")
    out = tmp_path / "wh"
    _export(cassandra, f"{keyspace}.f", "iceberg", out)
    from pyiceberg.catalog.sql import SqlCatalog

    table = SqlCatalog("default", uri=f"sqlite:///{out}/catalog.db", warehouse=f"file://{out}").load_table(
        f"{keyspace}.f"
    )
    assert table.schema().identifier_field_names() == set()
    assert "float/double key" in table.properties["cassandra-bulk.identifier-fields-left-out"]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["v"])
    import math

    assert math.isnan(rows[0]["k"]) and str(rows[0]["c"]) == "-0.0"
    assert rows[1]["k"] == float("-inf") and math.isnan(rows[1]["c"])
    assert (rows[2]["k"], rows[2]["c"]) == (1.5, 2.5)


CUSTOM_DC = (
    "'org.apache.cassandra.db.marshal.DynamicCompositeType(s=>org.apache.cassandra.db.marshal.UTF8Type,"
    "i=>org.apache.cassandra.db.marshal.Int32Type)'"
)
CUSTOM_C = (
    "'org.apache.cassandra.db.marshal.CompositeType(org.apache.cassandra.db.marshal.UTF8Type,"
    "org.apache.cassandra.db.marshal.Int32Type)'"
)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_custom_types_export_as_blobs_and_load_back(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, fmt: str
) -> None:
    """Item 12: DynamicCompositeType / CompositeType columns move as their exact bytes."""
    for name in ("cu", "cu_copy"):
        session.execute(f"CREATE TABLE {keyspace}.{name} (k int PRIMARY KEY, dc {CUSTOM_DC}, cc {CUSTOM_C})")
    session.execute(f"INSERT INTO {keyspace}.cu (k, dc, cc) VALUES (1, 0x8073000161ff, 0x0001610000040000000100)")
    session.execute(f"INSERT INTO {keyspace}.cu (k) VALUES (2)")
    out = tmp_path / fmt
    _export(cassandra, f"{keyspace}.cu", fmt, out)
    proc = _cli(cassandra, "load", "-t", f"{keyspace}.cu_copy", "--url", str(out), "--log-dir", str(tmp_path / "l"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    # The driver cannot decode these types at all (that was the crash), and the server renders them
    # neither as JSON nor as blobs: the reference is the literal bytes inserted above. The copy is
    # exported again and must hold exactly those bytes.
    again = tmp_path / "again"
    _export(cassandra, f"{keyspace}.cu_copy", "parquet", again)
    rows = {r["k"]: (r["dc"], r["cc"]) for r in pq.read_table(sorted(again.glob("*.parquet"))).to_pylist()}
    assert rows == {1: (bytes.fromhex("8073000161ff"), bytes.fromhex("0001610000040000000100")), 2: (None, None)}


def test_a_cluster_that_is_not_murmur3_is_refused_up_front() -> None:
    """Item 15: range plans are Murmur3 token math; another partitioner is refused with one line."""

    class Meta:
        partitioner = "org.apache.cassandra.dht.RandomPartitioner"

    class Cluster:
        metadata = Meta()

    with pytest.raises(ConfigError, match=r"RandomPartitioner.*Murmur3Partitioner only"):
        require_murmur3(Cluster())
    Meta.partitioner = "org.apache.cassandra.dht.Murmur3Partitioner"
    require_murmur3(Cluster())
