"""What DSBulk and cqlsh COPY users try next, on the real node (issue "Faithful on every table"):
CQL-literal collections/tuples/UDTs, CSV comments, skip/max records, whitespace trimming,
multi-character delimiters, several null strings, JSON arrays and multi-line documents, and
DSBulk's own option names on an unchanged DSBulk command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cassandra_bulk_core.codecs import CsvOptions
from cassandra_bulk_core.sources import FileSet, Target, read_jsonl_chunks
from cassandra_bulk_core.types import CQL_TYPE_KEY


def _cli(cassandra: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["-port", str(cassandra.port), "-logDir", str(tmp_path / "cli"), "--no-progress"]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=300)


def _ok(res: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _kv(session: Any, ks: str) -> None:
    session.execute(f"CREATE TABLE {ks}.kv (k int PRIMARY KEY, v text)")


def _values(session: Any, ks: str) -> dict[int, Any]:
    return {r[0]: r[1] for r in session.execute(f"SELECT k, v FROM {ks}.kv")}


def test_cqlsh_copy_literals_load(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TYPE {keyspace}.pair (val1 text, val2 int)")
    session.execute(
        f"CREATE TABLE {keyspace}.lit (k int PRIMARY KEY, s set<text>, l list<text>, m map<text, int>, "
        f"u frozen<pair>, t tuple<int, text>, b set<blob>, lu list<frozen<pair>>)"
    )
    src = tmp_path / "lit.csv"
    src.write_text(
        "k|s|l|m|u|t|b|lu\n"
        "1|{'a', 'b'}|['foo', 'bar']|{'x': 1, 'y': 2}|{val2: 1, val1: 'x'}|(1, 'one')|{0xcafe}"
        "|[{val1: 'p'}, {VAL2: 7}]\n"
        "2|{}|[]|{}|{val1: 'it''s'}|(2, null)|{}|[]\n"
        '3|["json"]|["j"]|{"j": 3}|{"val1": "j", "val2": 3}|[3, "three"]|["AQ=="]|[]\n'
    )
    summary = _ok(_cli(cassandra, tmp_path, "-k", keyspace, "-t", "lit", "-url", str(src), "-delim", "|"))
    assert summary["rows_written"] == 3
    rows = {r.k: r for r in session.execute(f"SELECT * FROM {keyspace}.lit")}
    one, two, three = rows[1], rows[2], rows[3]
    assert sorted(one.s) == ["a", "b"] and one.l == ["foo", "bar"] and dict(one.m) == {"x": 1, "y": 2}
    assert (one.u.val1, one.u.val2) == ("x", 1) and one.t == (1, "one") and set(one.b) == {b"\xca\xfe"}
    assert [(p.val1, p.val2) for p in one.lu] == [("p", None), (None, 7)]
    assert two.s is None and two.l is None and two.m is None  # empty collections are no cells
    assert (two.u.val1, two.u.val2) == ("it's", None) and two.t == (2, None)
    assert three.s == {"json"} and dict(three.m) == {"j": 3} and three.t == (3, "three") and three.b == {b"\x01"}


def test_csv_reading_options(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    _kv(session, keyspace)
    src = tmp_path / "in.csv"
    src.write_text(
        "# exported by hand\n"
        "k||v\n"
        "0|| skipped \n"
        "# a comment between records\n"
        '1||  padded  \n2||NULL\n3||N/A\n4||"multi\n# not a comment\nline"\n'
        "5|| past max records\n"
    )
    args = ["-k", keyspace, "-t", "kv", "-url", str(src), "-delim", "||", "-comment", "#"]
    args += ["-skipRecords", "1", "-maxRecords", "4", "--codec.nullStrings", "NULL,N/A"]
    args += ["--connector.csv.ignoreLeadingWhitespaces", "true", "--connector.csv.ignoreTrailingWhitespaces", "true"]
    summary = _ok(_cli(cassandra, tmp_path, *args, "--explicit-nulls"))
    assert summary["rows_written"] == 4
    assert _values(session, keyspace) == {1: "padded", 2: None, 3: None, 4: "multi\n# not a comment\nline"}


def test_an_unchanged_dsbulk_command_line(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    _kv(session, keyspace)
    src = tmp_path / "dsbulk.csv"
    src.write_text("1\tone\n2\ttwo\n")
    args = [
        "--schema.keyspace", keyspace, "--schema.table", "kv", "--connector.csv.url", str(src),
        "-header", "false", "--connector.csv.delimiter", "\\t", "--log.maxErrors", "0",
        "--schema.mapping", "k=k,v=v", "-cl", "LOCAL_ONE", "-verbosity", "0",
    ]  # fmt: skip
    res = _cli(cassandra, tmp_path, *args)
    assert _ok(res)["rows_written"] == 2
    assert "-verbosity has no effect here" in res.stderr
    assert _values(session, keyspace) == {1: "one", 2: "two"}


def test_unsupported_dsbulk_options_are_named(cassandra: Any, keyspace: str, tmp_path: Path) -> None:
    for args, name in [(["--codec.locale", "fr_FR"], "--codec.locale"), (["-query", "SELECT 1"], "-query")]:
        res = _cli(cassandra, tmp_path, "-k", keyspace, "-t", "kv", "-url", str(tmp_path), *args)
        assert res.returncode == 2, res.stderr
        assert f"DSBulk option {name} is not supported" in res.stderr and "Traceback" not in res.stderr
    res = _cli(cassandra, tmp_path, "-k", keyspace, "-t", "kv", "-header", "maybe")
    assert res.returncode == 2 and "takes true or false" in res.stderr and "Traceback" not in res.stderr


def test_json_array_and_multi_line_documents(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    _kv(session, keyspace)
    docs = [{"k": 1, "v": "a"}, {"k": 2, "v": "b\nc"}, {"k": 3, "v": None}]
    (tmp_path / "array").mkdir()
    (tmp_path / "array" / "a.json").write_text(json.dumps(docs, indent=2))
    res = _cli(cassandra, tmp_path, "-k", keyspace, "-t", "kv", "-url", str(tmp_path / "array"), "-c", "json")
    assert _ok(res)["rows_written"] == 3
    assert _values(session, keyspace) == {1: "a", 2: "b\nc", 3: None}
    session.execute(f"TRUNCATE {keyspace}.kv")
    pretty = tmp_path / "pretty.json"
    bad = '{\n  "k": 9,\n  "v": oops\n}'
    pretty.write_text("\n".join([json.dumps(docs[0], indent=4), bad, json.dumps(docs[1], indent=4)]))
    args = ["-k", keyspace, "-t", "kv", "-url", str(pretty), "--connector.name", "json"]
    res = _cli(cassandra, tmp_path, *args, "--connector.json.mode", "MULTI_DOCUMENT", "--log.maxErrors", "5")
    assert res.returncode == 1, res.stdout + res.stderr  # one rejected document
    assert json.loads(res.stdout.strip().splitlines()[-1])["rows_written"] == 2
    assert _values(session, keyspace) == {1: "a", 2: "b\nc"}


def test_json_skip_max_records_and_null_strings(tmp_path: Path) -> None:
    import pyarrow as pa

    src = tmp_path / "docs.json"
    src.write_text(json.dumps([{"k": i, "v": "NULL" if i == 2 else f"v{i}"} for i in range(6)]))
    targets = [
        Target("k", pa.field("k", pa.int32(), metadata={CQL_TYPE_KEY: b"int"})),
        Target("v", pa.field("v", pa.string(), metadata={CQL_TYPE_KEY: b"text"})),
    ]
    csv = CsvOptions(skip_records=1, max_records=3, null_strings=("NULL",))
    chunks = read_jsonl_chunks(
        FileSet(str(src), "jsonl"), "docs.json", targets, "BASE64", lambda a, b: False, False, True,
        frozenset({"k", "v"}), csv=csv,
    )  # fmt: skip
    rows = [r for c in chunks for r in c.batch.to_pylist()]
    assert rows == [{"k": 1, "v": "v1"}, {"k": 2, "v": None}, {"k": 3, "v": "v3"}]


def test_reading_options_on_the_tolerant_reader(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    """A byte that is not UTF-8 sends the rest of the file to Python's csv reader: comments, the
    long delimiter, skipped records and null strings still apply there; the bad record alone is
    rejected, shown with its own delimiter."""
    _kv(session, keyspace)
    src = tmp_path / "bad.csv"
    src.write_bytes(b'k<>v\n0<>skipped\n#c\n1<>a\n2<>b\xff\n# c2\n3<> N/A\n4<>"x<>y"\n')
    args = ["-k", keyspace, "-t", "kv", "-url", str(src), "-delim", "<>", "-comment", "#", "-skipRecords", "1"]
    res = _cli(cassandra, tmp_path, *args, "-nullStrings", "N/A", "--connector.csv.ignoreLeadingWhitespaces", "true")
    assert res.returncode == 1, res.stdout + res.stderr
    assert _values(session, keyspace) == {1: "a", 3: None, 4: "x<>y"}
    log = next((tmp_path / "cli").glob("*/errors.log"))
    assert [json.loads(line)["record"] for line in log.read_text().splitlines()] == [3]  # 1-based, in the file
    assert (log.parent / "rejects.csv").read_bytes() == "k<>v\n2<>b\ufffd\n".encode()  # reloadable as it was


def test_json_skip_max_records_and_null_strings_from_the_cli(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    """The loader hands the reading options to the JSON reader too (DSBulk's connector.json.*)."""
    _kv(session, keyspace)
    src = tmp_path / "in.jsonl"
    lines = ['{"k": 0, "v": "skipped"}', '{"k": 1, "v": "a"}', '{"k": 2, "v": "NULL"}', '{"k": 3, "v": "past max"}']
    src.write_text("\n".join(lines) + "\n")
    args = ["-k", keyspace, "-t", "kv", "-url", str(src), "-skipRecords", "1", "-maxRecords", "2"]
    summary = _ok(_cli(cassandra, tmp_path, *args, "--codec.nullStrings", "NULL", "--explicit-nulls"))
    assert summary["rows_written"] == 2
    assert _values(session, keyspace) == {1: "a", 2: None}
