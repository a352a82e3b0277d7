"""Load on the real node: all-types round trip with writetimes/TTLs, every source format, bad
records, kill + resume, range fan-out."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg
from cassandra_bulk_core.load import LoadAborted, LoadOptions, load_table
from cassandra_bulk_core.ring import plan_ranges
from cassandra_bulk_core.scan import ScanOptions, writetime_columns
from cassandra_bulk_core.sinks import SinkOptions
from cassandra_bulk_core.sources import IcebergSource
from cassandra_bulk_core.text_codecs import CsvOptions
from tests.alltypes import COLUMNS, EDGE_ROWS, create_and_fill, plain, random_rows
from tests.conftest import connection_config


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _rows(sess: Any, ks: str, table: str, columns: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    meta = sess.cluster.metadata.keyspaces[ks].tables[table]
    keys = [c.name for c in meta.primary_key]
    out = {}
    for row in sess.execute(f"SELECT {', '.join(columns)} FROM {ks}.{table}"):
        d = row._asdict()
        out[tuple(plain(d[k]) for k in keys)] = {c: plain(d[c]) for c in d}
    return out


# -- round trip: every type, every column's writetime and TTL ------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_all_types_round_trip_keeps_values_writetimes_and_ttls(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path, fmt: str
) -> None:
    cluster, sess = conn
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(200, seed=3))
    # Cells with their own write times and TTLs, different per column.
    session.execute(
        f"UPDATE {keyspace}.all_types USING TIMESTAMP 4102444800000000 AND TTL 86400 "
        "SET t = 'old' WHERE id = 101 AND ck = 'c0'"
    )
    session.execute(f"UPDATE {keyspace}.all_types USING TTL 7200 SET i = 5, d = 2.5 WHERE id = 102 AND ck = 'c1'")
    session.execute(f"UPDATE {keyspace}.all_types USING TIMESTAMP 4102444800000001 SET s_static = 'st' WHERE id = 103")
    target = f"{keyspace}_dst"
    session.execute(
        f"CREATE KEYSPACE {target} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    try:
        create_and_fill(session, target, [])
        info = resolve_table(cluster, keyspace, "all_types")
        udts = frozenset(cluster.metadata.keyspaces[keyspace].user_types)
        wt_cols = writetime_columns(info, list(info.columns), udts)
        assert "t" in wt_cols and "vf" in wt_cols and "l" not in wt_cols
        selectors = COLUMNS + [f"writetime({c})" for c in wt_cols] + [f"ttl({c})" for c in wt_cols]
        # Non-frozen collections and UDTs have per-element timestamps; their values are compared.
        # TTLs count down from when they were read: take the clock before reading them.
        read_at = time.time()
        before = _rows(sess, keyspace, "all_types", selectors)
        sink = SinkOptions(format=fmt)
        export_table(
            cluster,
            sess,
            info,
            ExportOptions(destination=str(tmp_path / "out"), splits=5, scan=ScanOptions(writetime=True), sink=sink),
        )
        result = load_table(
            cluster,
            sess,
            resolve_table(cluster, target, "all_types"),
            LoadOptions(source=str(tmp_path / "out"), format=fmt, log_dir=str(tmp_path / "logs")),
        )
        assert result.errors == 0 and result.rows_written == result.records
        after = _rows(sess, target, "all_types", selectors)
        assert set(after) == set(before)
        elapsed = time.time() - read_at + 2  # TTLs are whole seconds, rounded down
        for key, row in before.items():
            for col, value in row.items():
                got = after[key][col]
                if col.startswith("ttl"):
                    if value is None:
                        assert got is None, f"{key} {col}"
                    else:
                        assert value - elapsed <= got <= value, f"{key} {col}: {got} vs {value}"
                else:
                    assert got == value, f"{key} {col}: loaded {got!r} != source {value!r}"
        row = after[(101, "c0")]
        assert row["writetime_t"] == 4102444800000000 and 0 < row["ttl_t"] <= 86400
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {target}")


# -- each source format gives the same table ------------------------------------------------------------

WIDE = """CREATE TABLE IF NOT EXISTS {ks}.{t} (
    id bigint, ck int, name text, score double, ratio float, flag boolean, born date, at timestamp,
    u uuid, tags set<text>, attrs map<text, int>, payload blob, amount decimal, PRIMARY KEY ((id), ck))"""


def _wide_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w") as f:
        f.write("id,ck,name,score,ratio,flag,born,at,u,tags,attrs,payload,amount\n")
        for i in range(n):
            tags = json.dumps(sorted({f"t{rng.randint(0, 9)}" for _ in range(rng.randint(0, 3))}))
            attrs = json.dumps({f"k{j}": rng.randint(-99, 99) for j in range(rng.randint(0, 2))})
            y, m, d = rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28)
            day = f"20{rng.randint(10, 30)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            at = f"{day}T0{rng.randint(0, 9)}:1{rng.randint(0, 9)}:00.{rng.randint(0, 999):03d}Z"
            payload = "" if i % 50 == 0 else __import__("base64").b64encode(rng.randbytes(rng.randint(1, 24))).decode()
            name = "" if i % 97 == 0 else f'"name, {i} ""q"""'
            f.write(
                f"{i // 4},{i % 4},{name},{rng.uniform(-1e6, 1e6)!r},{rng.random()},{rng.random() < 0.5},"
                f"{y:04d}-{m:02d}-{d:02d},{at},{uuid.UUID(int=rng.getrandbits(128))},"
                f'"{tags.replace(chr(34), chr(34) * 2)}","{attrs.replace(chr(34), chr(34) * 2)}",{payload},'
                f"{rng.randint(-(10**9), 10**9)}.{rng.randint(0, 99):02d}\n"
            )


def test_every_source_format_loads_the_same_100k_rows(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    cluster, sess = conn
    n = 100_000
    _wide_csv(tmp_path / "seed.csv", n)
    tables = ["src", "from_csv", "from_jsonl", "from_parquet", "from_iceberg"]
    for t in tables:
        session.execute(WIDE.format(ks=keyspace, t=t))
    # The seed's ratios are doubles' digits in a float column: rounding them is precision loss, which
    # a load now refuses by default (DSBulk's overflowStrategy REJECT); the seed allows it.
    seed_csv = CsvOptions(escape='"', allow_precision_loss=True)
    rfc = LoadOptions(source=str(tmp_path / "seed.csv"), log_dir=str(tmp_path / "logs"), csv=seed_csv)
    seeded = load_table(cluster, sess, resolve_table(cluster, keyspace, "src"), rfc)
    assert seeded.rows_written == n and seeded.errors == 0
    src = resolve_table(cluster, keyspace, "src")
    for fmt in ("csv", "jsonl", "parquet"):
        export_table(
            cluster, sess, src, ExportOptions(destination=str(tmp_path / fmt), splits=8, sink=SinkOptions(format=fmt))
        )
    warehouse = str(tmp_path / "wh")
    export_to_iceberg(cluster, sess, src, ExportOptions(destination="", splits=8), IcebergOptions(warehouse=warehouse))
    expected = _rows(sess, keyspace, "src", ["*"])
    assert len(expected) == n
    for fmt in ("csv", "jsonl", "parquet", "iceberg"):
        options = LoadOptions(
            source=str(tmp_path / fmt),
            format=fmt,
            log_dir=str(tmp_path / "logs"),
            iceberg=IcebergSource(table=f"{keyspace}.src", warehouse=warehouse) if fmt == "iceberg" else None,
        )
        result = load_table(cluster, sess, resolve_table(cluster, keyspace, f"from_{fmt}"), options)
        assert (result.rows_written, result.errors) == (n, 0), fmt
        assert _rows(sess, keyspace, f"from_{fmt}", ["*"]) == expected, fmt


# -- bad records ----------------------------------------------------------------------------------------

BAD_TABLE = """CREATE TABLE {ks}.bad (id int PRIMARY KEY, d date, n int, u uuid, t tinyint, l list<int>,
    m map<text, int>, x double)"""


def _bad_csv(path: Path) -> set[int]:
    """1,000 records, 37 of them malformed in different ways; returns the bad records' ids."""
    kinds = {
        "date": lambda r: {**r, "d": "2024-13-45"},
        "date2": lambda r: {**r, "d": "yesterday"},
        "count": None,  # wrong number of cells
        "number": lambda r: {**r, "n": "12a"},
        "number2": lambda r: {**r, "x": "1.2.3"},
        "uuid": lambda r: {**r, "u": "not-a-uuid"},
        "tinyint": lambda r: {**r, "t": "300"},
        "json": lambda r: {**r, "l": '"[1, 2"'},
        "json2": lambda r: {**r, "m": '"{\\"a\\": }"'},
    }
    plan = ["date"] * 4 + ["date2"] * 3 + ["count"] * 6 + ["number"] * 3 + ["number2"] * 3
    plan += ["uuid"] * 6 + ["tinyint"] * 6 + ["json"] * 3 + ["json2"] * 3
    assert len(plan) == 37
    rng = random.Random(11)
    bad_ids = sorted(rng.sample(range(1000), 37))
    kind_of = dict(zip(bad_ids, plan, strict=True))
    lines = ["id,d,n,u,t,l,m,x"]
    for i in range(1000):
        r = {
            "id": str(i),
            "d": f"2020-01-{1 + i % 28:02d}",
            "n": str(i * 7),
            "u": str(uuid.UUID(int=i)),
            "t": str(i % 100),
            "l": f'"[{i}, {i + 1}]"',
            "m": f'"{{\\"k\\": {i}}}"',
            "x": f"{i / 3}",
        }
        kind = kind_of.get(i)
        if kind == "count":
            lines.append(",".join([r["id"], r["d"], r["n"]]) if i % 2 else ",".join([*r.values(), "extra"]))
            continue
        if kind:
            r = kinds[kind](r)  # type: ignore[misc]
        lines.append(",".join(r.values()))
    path.write_text("\n".join(lines) + "\n")
    return set(bad_ids)


def test_malformed_records_are_rejected_with_reasons_and_the_rest_land(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    session.execute(BAD_TABLE.format(ks=keyspace))
    bad_ids = _bad_csv(tmp_path / "in.csv")
    info = resolve_table(cluster, keyspace, "bad")
    options = LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path / "logs"), max_errors=100)
    result = load_table(cluster, sess, info, options)
    assert (result.records, result.rows_written, result.rejected) == (1000, 963, 37)
    assert session.execute(f"SELECT count(*) FROM {keyspace}.bad").one()[0] == 963
    landed = {r.id for r in session.execute(f"SELECT id FROM {keyspace}.bad")}
    assert landed == set(range(1000)) - bad_ids
    log_dir = Path(result.log_dir)
    rejected_lines = (log_dir / "rejects.csv").read_text().splitlines()
    assert rejected_lines[0] == "id,d,n,u,t,l,m,x" and len(rejected_lines) == 38
    assert {int(line.split(",")[0].strip('"')) for line in rejected_lines[1:]} == bad_ids
    errors = [json.loads(line) for line in (log_dir / "errors.log").read_text().splitlines()]
    assert len(errors) == 37
    reasons = " ".join(e["reason"] for e in errors)
    for needle in ("field 'd'", "as date", "wrong number of fields", "as int", "as uuid", "as tinyint", "field 'l'"):
        assert needle in reasons, needle
    assert all(e["resource"].endswith("in.csv") for e in errors)
    # The reject file reloads as-is once fixed: here, as proof of its format, with max_errors off.
    again = load_table(
        cluster,
        sess,
        info,
        LoadOptions(source=str(log_dir / "rejects.csv"), log_dir=str(tmp_path / "l2"), max_errors=-1),
    )
    assert again.records == 37 and again.rejected == 37


def test_max_errors_aborts_early_with_a_clear_message(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    cluster, sess = conn
    session.execute(BAD_TABLE.format(ks=keyspace))
    _bad_csv(tmp_path / "in.csv")
    info = resolve_table(cluster, keyspace, "bad")
    with pytest.raises(LoadAborted) as err:
        load_table(
            cluster, sess, info, LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path), max_errors=10)
        )
    message = str(err.value)
    assert "exceeds max_errors=10" in message and "rejects.csv" in message and "--resume" in message
    with pytest.raises(LoadAborted, match="max_errors=2%"):
        load_table(
            cluster, sess, info, LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path), max_errors="2%")
        )
    # The CLI: exit code 5 for aborted, 1 for finished with rejects, and a one-line error.
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cluster.contact_points[0]]
    base += ["--port", str(cluster.port), "-t", f"{keyspace}.bad", "--url", str(tmp_path / "in.csv")]
    base += ["--log-dir", str(tmp_path / "cli"), "--no-progress"]
    aborted = subprocess.run([*base, "--max-errors", "10"], capture_output=True, text=True)
    assert aborted.returncode == 5 and "max_errors=10" in aborted.stderr and "Traceback" not in aborted.stderr
    finished = subprocess.run(base, capture_output=True, text=True)
    assert finished.returncode == 1 and json.loads(finished.stdout)["rows_written"] == 963


# -- kill, resume: every row exactly once ----------------------------------------------------------------


def test_killed_load_resumes_and_writes_every_row_once(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    src = tmp_path / "in"
    src.mkdir()
    n_files, per_file = 8, 4000
    for f in range(n_files):
        lines = ["k,v"] + [f"{f * per_file + i},value-{f}-{i}" for i in range(per_file)]
        (src / f"part-{f:02d}.csv").write_text("\n".join(lines) + "\n")
    logs = tmp_path / "logs"
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "-t", f"{keyspace}.kv", "--url", str(src), "--log-dir", str(logs)]
    base += ["--no-progress", "--max-rows-per-second", "4000"]
    proc = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    checkpoint = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(logs.glob("load_*/checkpoint.json"))
        if found:
            doc = json.loads(found[0].read_text())
            if sum(r["complete"] for r in doc["resources"].values()) >= 2:
                checkpoint = doc
                break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint is not None, "the kill should land mid-load"
    written_before = session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0]
    assert 0 < written_before < n_files * per_file
    out = subprocess.run([*base[:-2], "--resume"], capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["timestamp"] == checkpoint["timestamp"]
    assert summary["skipped_resumed"] >= 2 * per_file
    # Each record is counted once: read by the resume, or skipped as written by the killed run.
    assert summary["records"] + summary["skipped_resumed"] == n_files * per_file
    rows = list(session.execute(f"SELECT k, v, writetime(v) FROM {keyspace}.kv"))
    assert len(rows) == n_files * per_file
    assert {r.k for r in rows} == set(range(n_files * per_file))
    # Record i of the load (files in order) is written at the operation timestamp + i µs, on the
    # first run and on the resumed one alike: a record replayed after the kill wrote the same cell.
    assert all(r.writetime_v == checkpoint["timestamp"] + r.k for r in rows)


# -- fan-out: one token range per orchestrator task ---------------------------------------------------------


def test_range_restricted_loads_split_a_load_exactly(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    session.execute(f"CREATE TABLE {keyspace}.kv2 (k int PRIMARY KEY, v text)")
    (tmp_path / "in.csv").write_text("k,v\n" + "".join(f"{i},v{i}\n" for i in range(3000)))
    info = resolve_table(cluster, keyspace, "kv")
    total = 0
    for planned in plan_ranges(4):
        opts = LoadOptions(source=str(tmp_path / "in.csv"), only_range=planned.id, log_dir=str(tmp_path / "logs"))
        result = load_table(cluster, sess, info, opts)
        total += result.rows_written
        assert result.rows_written + result.skipped_other_range == 3000
        lo, hi = planned.tokens.start, planned.tokens.end
        rows = session.execute(f"SELECT token(k) AS t FROM {keyspace}.kv WHERE token(k) > {lo} AND token(k) <= {hi}")
        assert len(list(rows)) == result.rows_written
    assert total == 3000
    # An export's range-named files: a range's load reads only its own files.
    export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path / "exp"), splits=4))
    loaded = 0
    for planned in plan_ranges(4):
        opts = LoadOptions(source=str(tmp_path / "exp"), only_range=planned.id, log_dir=str(tmp_path / "logs"))
        result = load_table(cluster, sess, resolve_table(cluster, keyspace, "kv2"), opts)
        assert result.skipped_other_range == 0 and result.resources == 1
        loaded += result.rows_written
    assert loaded == 3000
    assert _rows(sess, keyspace, "kv2", ["k", "v"]) == _rows(sess, keyspace, "kv", ["k", "v"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_load_from_s3_and_a_single_compressed_file(
    keyspace: str, session: Any, conn: Any, tmp_path: Path, moto_s3: Any, fmt: str
) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text, n double)")
    session.execute(f"CREATE TABLE {keyspace}.kv2 (k int PRIMARY KEY, v text, n double)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v, n) VALUES (?, ?, ?)")
    for i in range(500):
        session.execute(insert, (i, f"v{i}", i / 7))
    info = resolve_table(cluster, keyspace, "kv")
    uri = moto_s3.uri()
    compression = "gzip" if fmt == "csv" else None
    export_table(
        cluster,
        sess,
        info,
        ExportOptions(
            destination=uri, splits=3, storage=moto_s3.options, sink=SinkOptions(format=fmt, compression=compression)
        ),
    )
    options = LoadOptions(source=uri, storage=moto_s3.options, log_dir=str(tmp_path))
    result = load_table(cluster, sess, resolve_table(cluster, keyspace, "kv2"), options)
    assert (result.rows_written, result.resources, result.errors) == (500, 3, 0)
    assert _rows(sess, keyspace, "kv2", ["*"]) == _rows(sess, keyspace, "kv", ["*"])
    if fmt == "csv":  # one file by its full URI, gzip by its suffix
        one = next(
            k["Key"]
            for k in moto_s3.client().list_objects_v2(Bucket=moto_s3.bucket)["Contents"]
            if k["Key"].startswith(uri.split("/", 3)[3]) and k["Key"].endswith(".csv.gz")
        )
        session.execute(f"TRUNCATE {keyspace}.kv2")
        single = LoadOptions(source=f"s3://{moto_s3.bucket}/{one}", storage=moto_s3.options, log_dir=str(tmp_path))
        assert load_table(cluster, sess, resolve_table(cluster, keyspace, "kv2"), single).rows_written > 0


def test_stdin_mapping_fixed_timestamp_ttl_nulls_and_counters(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.u (id int PRIMARY KEY, name text, score int)")
    session.execute(f"INSERT INTO {keyspace}.u (id, name, score) VALUES (2, 'keep', 7) USING TIMESTAMP 1")
    session.execute(f"CREATE TABLE {keyspace}.c (id int PRIMARY KEY, hits counter)")
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "--log-dir", str(tmp_path), "--no-progress"]
    data = "user,label,points\n1,alice,10\n2,,\n"
    args = ["-t", f"{keyspace}.u", "--format", "csv", "-m", "user=id, label=name, points=score"]
    args += ["--timestamp", "1000000", "--ttl", "3600"]
    out = subprocess.run([*base, *args], input=data, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["rows_written"] == 2
    rows = {r.id: r for r in session.execute(f"SELECT id, name, score, writetime(name), ttl(name) FROM {keyspace}.u")}
    assert rows[1].name == "alice" and rows[1].writetime_name == 1_000_000 and 3500 < rows[1].ttl_name <= 3600
    assert (rows[2].name, rows[2].score) == ("keep", 7)  # nulls are unset: the old cells stay
    subprocess.run([*base, *args, "--explicit-nulls"], input=data, capture_output=True, text=True, check=True)
    assert session.execute(f"SELECT name, score FROM {keyspace}.u WHERE id = 2").one() == (None, None)
    # Counters: UPDATE ... SET hits = hits + ?, twice adds twice (counters are not idempotent).
    for _ in range(2):
        subprocess.run(
            [*base, "-t", f"{keyspace}.c", "--format", "jsonl"],
            input='{"id": 1, "hits": 5}\n{"id": 2, "hits": 1}\n',
            capture_output=True,
            text=True,
            check=True,
        )
    assert {r.id: r.hits for r in session.execute(f"SELECT * FROM {keyspace}.c")} == {1: 10, 2: 2}


def test_iceberg_source_at_a_snapshot_with_a_row_filter(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    cluster, sess = conn
    for t in ("kv", "old", "eu"):
        session.execute(f"CREATE TABLE {keyspace}.{t} (k int PRIMARY KEY, region text, v int)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, region, v) VALUES (?, ?, ?)")
    for i in range(300):
        session.execute(insert, (i, "eu" if i % 3 == 0 else "us", 1))
    info = resolve_table(cluster, keyspace, "kv")
    warehouse = str(tmp_path / "wh")
    first = export_to_iceberg(
        cluster, sess, info, ExportOptions(destination="", splits=2), IcebergOptions(warehouse=warehouse, mode="single")
    )
    from cassandra_bulk_core.iceberg import load_catalog, operation_snapshot_id

    table = load_catalog(IcebergOptions(warehouse=warehouse)).load_table(f"{keyspace}.kv")
    snap = operation_snapshot_id(table, first.operation_id)
    assert snap is not None
    session.execute(f"UPDATE {keyspace}.kv SET v = 2 WHERE k = 0")
    export_to_iceberg(
        cluster, sess, info, ExportOptions(destination="", splits=2), IcebergOptions(warehouse=warehouse, mode="single")
    )
    src = IcebergSource(table=f"{keyspace}.kv", warehouse=warehouse, snapshot_id=snap)
    load_table(cluster, sess, resolve_table(cluster, keyspace, "old"), LoadOptions(iceberg=src, log_dir=str(tmp_path)))
    assert session.execute(f"SELECT v FROM {keyspace}.old WHERE k = 0").one().v == 1
    assert session.execute(f"SELECT count(*) FROM {keyspace}.old").one()[0] == 300
    eu = IcebergSource(table=f"{keyspace}.kv", warehouse=warehouse, row_filter="region = 'eu'")
    result = load_table(
        cluster, sess, resolve_table(cluster, keyspace, "eu"), LoadOptions(iceberg=eu, log_dir=str(tmp_path))
    )
    assert result.rows_written == 100
    assert session.execute(f"SELECT v FROM {keyspace}.eu WHERE k = 0").one().v == 2


def test_replaying_a_load_keeps_non_frozen_lists_whole(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    """A list rewritten at the same timestamp would keep its old elements (they are keyed by time
    UUIDs): lists take a fresh client timestamp per attempt, so a replay replaces them."""
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.l (k int PRIMARY KEY, xs list<int>, tags set<text>, v text)")
    (tmp_path / "in.jsonl").write_text(
        "".join(json.dumps({"k": i, "xs": [i, i + 1], "tags": ["a"], "v": f"v{i}"}) + "\n" for i in range(50))
    )
    info = resolve_table(cluster, keyspace, "l")
    options = LoadOptions(source=str(tmp_path / "in.jsonl"), log_dir=str(tmp_path / "logs"), write_timestamp=1000)
    for _ in range(2):  # the same load twice, with a fixed timestamp: what a crash + resume replays
        assert load_table(cluster, sess, info, options).rows_written == 50
    rows = {r.k: r for r in session.execute(f"SELECT k, xs, tags, v, writetime(v) FROM {keyspace}.l")}
    assert {k: list(r.xs) for k, r in rows.items()} == {i: [i, i + 1] for i in range(50)}
    assert {r.writetime_v for r in rows.values()} == {1000}


def test_cancel_stops_a_load_and_keeps_its_checkpoint(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    import threading

    from cassandra_bulk_core import Listener
    from cassandra_bulk_core.load import LoadCancelled

    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    (tmp_path / "in.csv").write_text("k,v\n" + "".join(f"{i},v{i}\n" for i in range(20000)))
    cancel = threading.Event()

    class CancelSoon(Listener):
        def on_progress(self, rows: int, bytes_: int) -> None:
            cancel.set()

    options = LoadOptions(
        source=str(tmp_path / "in.csv"), log_dir=str(tmp_path / "logs"), cancel=cancel, max_rows_per_second=2000
    )
    started = time.monotonic()
    with pytest.raises(LoadCancelled):
        load_table(cluster, sess, resolve_table(cluster, keyspace, "kv"), options, CancelSoon())
    assert time.monotonic() - started < 15
    written = session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0]
    assert written < 20000
    resumed = load_table(
        cluster,
        sess,
        resolve_table(cluster, keyspace, "kv"),
        LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path / "logs"), resume=True),
    )
    assert resumed.errors == 0
    assert session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0] == 20000


def test_range_load_from_our_iceberg_export_with_a_row_filter(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    for t in ("kv", "dst"):
        session.execute(f"CREATE TABLE {keyspace}.{t} (k int PRIMARY KEY, region text)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, region) VALUES (?, ?)")
    for i in range(400):
        session.execute(insert, (i, "eu" if i % 2 else "us"))
    warehouse = str(tmp_path / "wh")
    export_to_iceberg(
        cluster,
        sess,
        resolve_table(cluster, keyspace, "kv"),
        ExportOptions(destination="", splits=4),
        IcebergOptions(warehouse=warehouse),
    )
    total = 0
    for planned in plan_ranges(4):
        src = IcebergSource(table=f"{keyspace}.kv", warehouse=warehouse, row_filter="region = 'eu'")
        opts = LoadOptions(iceberg=src, only_range=planned.id, log_dir=str(tmp_path / "logs"))
        result = load_table(cluster, sess, resolve_table(cluster, keyspace, "dst"), opts)
        assert result.skipped_other_range == 0  # the _cb_range filter read only this range's rows
        total += result.rows_written
    assert total == 200
    assert {r.region for r in session.execute(f"SELECT region FROM {keyspace}.dst")} == {"eu"}


def test_load_aborted_carries_its_result(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v int)")
    (tmp_path / "in.csv").write_text("k,v\n1,1\n2,x\n3,y\n")
    with pytest.raises(LoadAborted) as err:
        load_table(
            cluster,
            sess,
            resolve_table(cluster, keyspace, "kv"),
            LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path), max_errors=1),
        )
    assert err.value.result is not None and err.value.result.rejected == 2
    assert Path(err.value.result.log_dir, "errors.log").exists()
