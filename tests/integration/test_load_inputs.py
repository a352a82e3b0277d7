"""Load inputs on the real node (issue "Faithful on every table", text input side): JSON Lines
field sets, empty files and blank lines, BOMs, encodings, huge fields, garbage, corrupt files,
duplicate headers, record numbers, blobs, precision, unbounded varints, linear rejects."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.load import LoadOptions, LoadResult, load_table
from cassandra_bulk_core.scan import ScanOptions
from cassandra_bulk_core.sinks import SinkOptions
from cassandra_bulk_core.text_codecs import CsvOptions
from tests.conftest import connection_config


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _load(conn: Any, ks: str, table: str, source: Path, tmp_path: Path, **options: Any) -> LoadResult:
    cluster, sess = conn
    opts = LoadOptions(source=str(source), log_dir=str(tmp_path / "logs"), max_errors=-1, **options)
    return load_table(cluster, sess, resolve_table(cluster, ks, table), opts)


def _errors(result: LoadResult) -> list[dict[str, Any]]:
    path = Path(result.log_dir) / "errors.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _cli(cassandra: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "--log-dir", str(tmp_path / "cli"), "--no-progress"]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=300)


def _kv(session: Any, ks: str, extra: str = "") -> None:
    session.execute(f"CREATE TABLE {ks}.kv (k int PRIMARY KEY, v text{extra})")


def _values(session: Any, ks: str, column: str = "v", table: str = "kv") -> dict[int, Any]:
    return {r[0]: r[1] for r in session.execute(f"SELECT k, {column} FROM {ks}.{table}")}


# -- item 4: JSON Lines field set from every record --------------------------------------------------


def test_jsonl_writetimes_survive_an_empty_first_range_file(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    _kv(session, keyspace)
    session.execute(f"INSERT INTO {keyspace}.kv (k, v) VALUES (1, 'a') USING TIMESTAMP 1000 AND TTL 86400")
    info = resolve_table(cluster, keyspace, "kv")
    out = tmp_path / "out"
    export_table(
        cluster,
        sess,
        info,
        ExportOptions(destination=str(out), splits=2, scan=ScanOptions(writetime=True), sink=SinkOptions("jsonl")),
    )
    (out / "a-empty-first.jsonl").write_bytes(b"")  # sorts first, like an export's empty range
    session.execute(f"TRUNCATE {keyspace}.kv")
    result = _load(conn, keyspace, "kv", out, tmp_path)
    assert result.rows_written == 1 and result.errors == 0
    row = session.execute(f"SELECT writetime(v), ttl(v) FROM {keyspace}.kv WHERE k = 1").one()
    assert row[0] == 1000 and 0 < row[1] <= 86400  # the TTL'd row did not become permanent


def test_jsonl_field_absent_from_the_first_record_is_not_dropped(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    _kv(session, keyspace, ", w text")
    src = tmp_path / "in.jsonl"
    # A BOM, a blank first line, a blank line between records: skipped and not counted.
    src.write_bytes(b'\xef\xbb\xbf\n{"k":1,"v":"1"}\n\n{"k":2,"v":"2","w":"x"}\n')
    strict = _load(conn, keyspace, "kv", src, tmp_path)
    # DSBulk's default (schema.allowMissingFields false): the record without w is rejected, loudly.
    assert (strict.rows_written, strict.rejected) == (1, 1)
    [err] = _errors(strict)
    assert err["record"] == 1 and "missing field(s) w" in err["reason"]
    assert _values(session, keyspace, "w") == {2: "x"}
    lenient = _load(conn, keyspace, "kv", src, tmp_path, allow_missing_fields=True)
    assert (lenient.rows_written, lenient.errors) == (2, 0)
    assert _values(session, keyspace, "w") == {1: None, 2: "x"}


# -- item 4 (CSV) and 13: empty files, blank lines, BOM, encodings -------------------------------------


def test_csv_directory_with_an_empty_first_file_and_a_blank_first_line(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    _kv(session, keyspace)
    src = tmp_path / "dir"
    src.mkdir()
    (src / "a.csv").write_bytes(b"")
    (src / "b.csv").write_bytes(b"\n\r\nk,v\n1,one\n")
    (src / "c.csv").write_bytes(b"\xef\xbb\xbfk,v\n2,two\n")  # a UTF-8 BOM before the header
    result = _load(conn, keyspace, "kv", src, tmp_path)
    assert (result.rows_written, result.errors) == (2, 0)
    assert _values(session, keyspace) == {1: "one", 2: "two"}


def test_bad_bytes_reject_their_record_and_encoding_reads_them(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    _kv(session, keyspace)
    src = tmp_path / "latin1.csv"
    src.write_bytes("k,v\n1,ok\n2,café\n3,fine\n".encode("latin-1"))
    result = _load(conn, keyspace, "kv", src, tmp_path)
    assert (result.rows_written, result.rejected) == (2, 1)
    [err] = _errors(result)
    assert err["resource"].endswith("latin1.csv") and err["record"] == 2 and err["field"] == "v"
    assert "not valid utf-8" in err["reason"]
    assert _values(session, keyspace) == {1: "ok", 3: "fine"}
    out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.kv", "--url", str(src), "--encoding", "latin-1")
    assert out.returncode == 0, out.stderr
    assert _values(session, keyspace)[2] == "café"
    jsonl = tmp_path / "latin1.jsonl"
    jsonl.write_bytes('{"k":4,"v":"né"}\n'.encode("latin-1"))
    assert _load(conn, keyspace, "kv", jsonl, tmp_path).rejected == 1
    assert _load(conn, keyspace, "kv", jsonl, tmp_path, csv=CsvOptions(encoding="latin-1")).rows_written == 1
    assert _values(session, keyspace)[4] == "né"


def test_a_field_larger_than_a_block_loads(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    _kv(session, keyspace)
    big = "x" * (6 << 20)
    src = tmp_path / "big.csv"
    src.write_text(f'k,v\n1,a\n2,"{big}"\n3,c\n4,d,extra\n5,e\n')
    result = _load(conn, keyspace, "kv", src, tmp_path)
    assert (result.rows_written, result.rejected) == (4, 1)
    assert _errors(result)[0]["record"] == 4
    values = _values(session, keyspace)
    assert values[2] == big and values[5] == "e"


# -- item 13: garbage and corrupt files: one line, no traceback, no --resume advice --------------------


def test_binary_garbage_without_header_is_rejected_record_by_record(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    _kv(session, keyspace)
    src = tmp_path / "garbage.csv"
    src.write_bytes(bytes(range(256)) * 12 + b"\n7,seven\n")
    out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.kv", "--url", str(src), "--no-header")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert _values(session, keyspace) == {7: "seven"}


def test_corrupt_files_are_named_without_resume_advice(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    _kv(session, keyspace)
    good = gzip.compress(b"k,v\n" + b"".join(b"%d,v%d\n" % (i, i) for i in range(2000)))
    (tmp_path / "t.csv.gz").write_bytes(good[: len(good) // 2])
    lines = gzip.compress(b"".join(b'{"k":%d,"v":"v%d"}\n' % (i, i) for i in range(2000)))
    (tmp_path / "t.jsonl.gz").write_bytes(lines[: len(lines) // 2])
    (tmp_path / "t.parquet").write_bytes(b"PAR1 not really")
    for name in ("t.csv.gz", "t.jsonl.gz", "t.parquet"):
        out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.kv", "--url", str(tmp_path / name))
        assert out.returncode == 4, (name, out.stderr)
        assert "Traceback" not in out.stderr and "--resume" not in out.stderr, out.stderr
        assert str(tmp_path / name) in out.stderr and "cannot read the file" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_a_duplicate_header_field_is_an_error(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    _kv(session, keyspace)
    src = tmp_path / "dup.csv"
    src.write_text("k,v,v\n1,a,b\n")
    out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.kv", "--url", str(src))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{src}: the CSV header names the field 'v' twice" in out.stderr
    assert _values(session, keyspace) == {}


# -- item 14: record numbers, linear rejects ------------------------------------------------------------


def test_reported_record_numbers_are_positions_in_the_file(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kn (k int PRIMARY KEY, n int)")
    src = tmp_path / "in.csv"
    src.write_text("k,n\n1,1\n2,2,2\n3,3\n\n4\n5,x\n6,6\n")
    result = _load(conn, keyspace, "kn", src, tmp_path)
    got = {e["record"]: e["reason"] for e in _errors(result)}
    assert sorted(got) == [2, 4, 5]  # 1-based data records; the blank line is not a record
    assert "wrong number of fields" in got[2] and "wrong number of fields" in got[4] and "as int" in got[5]
    assert _values(session, keyspace, "n", "kn") == {1: 1, 3: 3, 6: 6}


def test_ten_thousand_bad_values_are_rejected_in_linear_time(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kn (k int PRIMARY KEY, n int)")
    src = tmp_path / "in.csv"
    src.write_text("k,n\n" + "".join(f"{i},{'bad' if i % 2 else i}\n" for i in range(20_000)))
    started = time.process_time()
    result = _load(conn, keyspace, "kn", src, tmp_path, dry_run=True)
    assert result.rejected == 10_000
    assert time.process_time() - started < 20  # was about 60 s of CPU for the rejects alone


# -- items 7, 9 and varint: values on the node --------------------------------------------------------------


def test_blobs_precision_and_unbounded_varints(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.vals (k int PRIMARY KEY, b blob, d double, f float, n varint)")
    huge = "-" + "98765432109876543210" * 3
    src = tmp_path / "in.csv"
    src.write_text(
        "k,b,d,f,n\n"
        f"1,0xcafebabe,0.1,0.1,{huge}\n"
        "2,yv66vg==,1.5,2.5,7\n"
        "3,0x,0.12345678901234567890123456789,1,1\n"
        '4,"",1,0.1234567891,1\n'
    )
    result = _load(conn, keyspace, "vals", src, tmp_path)
    assert (result.rows_written, result.rejected) == (2, 2)
    reasons = {e["record"]: e["reason"] for e in _errors(result)}
    assert "loses precision as a double" in reasons[3] and "loses precision as a float" in reasons[4]
    rows = {r.k: r for r in session.execute(f"SELECT k, b, d, f, n FROM {keyspace}.vals")}
    assert rows[1].b == b"\xca\xfe\xba\xbe" and rows[2].b == b"\xca\xfe\xba\xbe"
    assert rows[1].d == 0.1 and rows[1].n == int(huge)
    out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.vals", "--url", str(src), "--allow-precision-loss")
    assert out.returncode == 0, out.stderr
    rows = {r.k: r for r in session.execute(f"SELECT k, b, d FROM {keyspace}.vals")}
    assert rows[3].d == 0.12345678901234568 and rows[3].b == b"" and rows[4].b == b""
    out = _cli(cassandra, tmp_path, "-t", f"{keyspace}.vals", "--url", str(src), "--binary-format", "HEX")
    assert out.returncode == 1  # yv66vg== is not hex; 0x and "" are empty blobs in HEX mode too
    # JSON: a varint as a bare 60-digit number.
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"k":5,"b":"0x00","d":2.5,"f":0.5,"n":' + huge[1:] + "}\n")
    assert _load(conn, keyspace, "vals", jsonl, tmp_path).rows_written == 1
    row = session.execute(f"SELECT b, n FROM {keyspace}.vals WHERE k = 5").one()
    assert row.b == b"\x00" and row.n == int(huge[1:])
