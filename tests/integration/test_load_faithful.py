"""Load faithfully on the real node: static-only partitions, null counters, null collection elements,
mappings, max_errors, duplicate keys, views, counter writes of unknown outcome, refused batches and
unmapped fields."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.load import UNKNOWN_OUTCOME_EXIT, LoadAborted, LoadOptions, LoadResult, load_table
from cassandra_bulk_core.text_codecs import CsvOptions
from tests.conftest import connection_config


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _load(conn: Any, ks: str, table: str, source: Path, tmp_path: Path, **kw: Any) -> LoadResult:
    cluster, sess = conn
    options = LoadOptions(source=str(source), log_dir=str(tmp_path / "logs"), **kw)
    return load_table(cluster, sess, resolve_table(cluster, ks, table), options)


def _errors(result: LoadResult) -> list[dict[str, Any]]:
    path = Path(result.log_dir, "errors.log")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _cli(cassandra: Any, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    import subprocess

    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "--log-dir", str(tmp_path / "cli"), "--no-progress"]
    out = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


# -- 1: static-only partitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_static_only_partitions_load_as_static_only(
    keyspace: str, session: Any, conn: Any, tmp_path: Path, fmt: str
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int, c int, s text static, v text, PRIMARY KEY (k, c))")
    records = [
        {"k": 1, "c": None, "s": "only static", "v": None},  # a static-only partition
        {"k": 2, "c": 1, "s": "st", "v": "row"},
        {"k": 3, "c": None, "s": "x", "v": "bad"},  # a regular column without a row: refused
        {"k": 4, "c": None, "s": None, "v": None},  # nothing but the key: refused
    ]
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        cell = lambda v: "" if v is None else str(v)  # noqa: E731
        src.write_text("k,c,s,v\n" + "".join(",".join(cell(r[c]) for c in "kcsv") + "\n" for r in records))
    else:
        src.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = _load(conn, keyspace, "t", src, tmp_path)
    assert (result.rows_written, result.rejected) == (2, 2)
    assert {(r.k, r.c, r.s, r.v) for r in session.execute(f"SELECT k, c, s, v FROM {keyspace}.t")} == {
        (1, None, "only static", None),
        (2, 1, "st", "row"),
    }
    reasons = {e["record"]: e["reason"] for e in _errors(result)}
    assert "primary key column 'c' is null" in reasons[3] and "non-static column(s) v" in reasons[3]
    assert "primary key column 'c' is null" in reasons[4]


def test_static_only_partitions_with_a_list_column(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    """The per-row path (lists, write times) writes static-only partitions too."""
    session.execute(f"CREATE TABLE {keyspace}.t (k int, c int, s text static, xs list<int>, PRIMARY KEY (k, c))")
    (tmp_path / "in.csv").write_text('k,c,s,xs\n1,,x,\n2,1,y,"[1, 2]"\n3,,z,"[1]"\n')
    result = _load(conn, keyspace, "t", tmp_path / "in.csv", tmp_path)
    assert (result.rows_written, result.rejected) == (2, 1)
    rows = {(r.k, r.c): (r.s, r.xs) for r in session.execute(f"SELECT k, c, s, xs FROM {keyspace}.t")}
    assert rows == {(1, None): ("x", None), (2, 1): ("y", [1, 2])}
    assert "non-static column(s) xs" in _errors(result)[0]["reason"]


# -- 5: null counters stay null ----------------------------------------------------------------------------


def test_null_counters_stay_null(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.c (id int PRIMARY KEY, a counter, b counter)")
    (tmp_path / "in.csv").write_text("id,a,b\n1,5,\n2,,\n3,0,7\n")
    result = _load(conn, keyspace, "c", tmp_path / "in.csv", tmp_path)
    assert result.errors == 0 and result.records == 3
    rows = {r.id: (r.a, r.b) for r in session.execute(f"SELECT id, a, b FROM {keyspace}.c")}
    assert rows == {1: (5, None), 3: (0, 7)}  # id 2 had no counter: nothing written, no zeros


def test_static_counter_of_a_static_only_partition(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.c (k int, c int, total counter static, n counter, PRIMARY KEY (k, c))")
    (tmp_path / "in.csv").write_text("k,c,total,n\n1,,10,\n2,1,3,4\n")
    result = _load(conn, keyspace, "c", tmp_path / "in.csv", tmp_path)
    assert result.errors == 0
    rows = {(r.k, r.c): (r.total, r.n) for r in session.execute(f"SELECT k, c, total, n FROM {keyspace}.c")}
    assert rows == {(1, None): (10, None), (2, 1): (3, 4)}


# -- 8, 18.3: null elements inside collections --------------------------------------------------------------


def test_null_collection_elements_reject_only_their_record(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(
        f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, l list<int>, st set<text>, m map<text, int>, "
        "fl frozen<list<frozen<list<int>>>>)"
    )
    lines = ["k,l,st,m,fl"]
    for i in range(40):
        lines.append(f'{i},"[{i},2]","[""a""]","{{""a"": {i}}}","[[1]]"')
    lines[6] = '5,"[1,null,3]",,,'
    lines[11] = '10,,,"{""a"": null}",'
    lines[16] = '15,,,,"[[1, null]]"'
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    result = _load(conn, keyspace, "t", tmp_path / "in.csv", tmp_path, csv=CsvOptions(escape='"'))
    assert time.monotonic() - started < 20
    assert (result.rows_written, result.rejected, result.failed_writes) == (37, 3, 0)
    assert {r.k for r in session.execute(f"SELECT k FROM {keyspace}.t")} == set(range(40)) - {5, 10, 15}
    reasons = {e["record"]: e["reason"] for e in _errors(result)}
    assert set(reasons) == {6, 11, 16} and all("null element" in r for r in reasons.values())
    assert "field 'l'" in reasons[6] and "field 'm'" in reasons[11] and "field 'fl'" in reasons[16]
    # JSON: [null, "x"] is not ['', 'x'] and {"a": null} is not an empty int.
    (tmp_path / "in.jsonl").write_text(
        json.dumps({"k": 100, "l": None, "st": [None, "x"], "m": None, "fl": None})
        + "\n"
        + json.dumps({"k": 101, "l": None, "st": None, "m": {"a": None}, "fl": None})
        + "\n"
        + json.dumps({"k": 102, "l": [1], "st": ["x"], "m": {"a": 1}, "fl": [[2]]})
        + "\n"
    )
    result = _load(conn, keyspace, "t", tmp_path / "in.jsonl", tmp_path)
    assert (result.rows_written, result.rejected) == (1, 2)
    assert session.execute(f"SELECT k FROM {keyspace}.t WHERE k IN (100, 101)").one() is None


def test_a_vector_with_a_null_element_beside_a_list_column_rejects_one_record(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, vf vector<float, 2>, l list<int>)")
    records = [{"k": i, "vf": [1.0, float(i)], "l": [i]} for i in range(20)]
    records[7]["vf"] = [1.0, None]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = _load(conn, keyspace, "t", tmp_path / "in.jsonl", tmp_path)
    assert (result.rows_written, result.rejected, result.failed_writes) == (19, 1, 0)
    assert "field 'vf': null element in vector<float, 2>" in _errors(result)[0]["reason"]
    assert session.execute(f"SELECT count(*) FROM {keyspace}.t").one()[0] == 19


# -- 10: one field into several columns; two fields into one column ----------------------------------------


def test_one_field_mapped_to_two_columns_fills_both(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (pk int PRIMARY KEY, v1 text, v2 text)")
    (tmp_path / "in.csv").write_text("pk,v\n1,a\n2,b\n")
    code, _, err = _cli(
        cassandra, tmp_path, "-t", f"{keyspace}.t", "--url", str(tmp_path / "in.csv"), "-m", "pk=pk,v=v1,v=v2"
    )
    assert code == 0, err
    assert {(r.pk, r.v1, r.v2) for r in session.execute(f"SELECT * FROM {keyspace}.t")} == {
        (1, "a", "a"),
        (2, "b", "b"),
    }
    (tmp_path / "two.csv").write_text("pk,a,b\n1,x,y\n")
    code, _out, err = _cli(
        cassandra, tmp_path, "-t", f"{keyspace}.t", "--url", str(tmp_path / "two.csv"), "-m", "pk=pk,a=v1,b=v1"
    )
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "two fields into column 'v1'" in err


# -- 14: max_errors stops promptly and keeps the good records read before the limit ----------------------------


def test_max_errors_aborts_at_the_limit_and_writes_the_good_records_before_it(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v int)")
    # One chunk: good records 0..499, then bad ones mixed with good ones from 500 on.
    lines = ["k,v"] + [f"{i},{i}" if i < 500 or i % 2 else f"{i},x" for i in range(2000)]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(LoadAborted) as err:
        _load(conn, keyspace, "kv", tmp_path / "in.csv", tmp_path, max_errors=5)
    result = err.value.result
    assert result is not None and result.rejected == 6  # the 6th reject is the one past the limit
    # Records 0..510 were read up to the 6th bad one (record 510): every good one among them landed.
    expected = set(range(500)) | {i for i in range(500, 510) if i % 2}
    assert {r.k for r in session.execute(f"SELECT k FROM {keyspace}.kv")} == expected
    assert result.rows_written == len(expected) and result.records == 511
    assert "6 rejected record(s) after 511 read" in str(err.value)
    code, _, stderr = _cli(
        cassandra, tmp_path, "-t", f"{keyspace}.kv", "--url", str(tmp_path / "in.csv"), "--max-errors", "5"
    )
    assert code == 5 and "max_errors=5" in stderr and "Traceback" not in stderr


# -- 16: the last record of a key wins -------------------------------------------------------------------


def test_duplicate_keys_the_last_record_wins_and_a_replay_is_idempotent(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text, n int)")
    # With one timestamp for every record, Cassandra keeps the greater value ('z', 9): the tie-break.
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("k,v,n\n1,z,9\n2,b,1\n1,a,1\n")
    (src / "b.csv").write_text("k,v,n\n2,a,0\n")  # a later file wins over an earlier one too
    result = _load(conn, keyspace, "kv", src, tmp_path, file_pattern="*.csv")
    assert result.errors == 0
    rows = {r.k: (r.v, r.n, r.w) for r in session.execute(f"SELECT k, v, n, writetime(v) AS w FROM {keyspace}.kv")}
    assert {k: v[:2] for k, v in rows.items()} == {1: ("a", 1), 2: ("a", 0)}
    ts = result.timestamp
    assert rows[1][2] == ts + 2 and rows[2][2] == ts + 3  # record i of the load at timestamp + i
    # Resume of the same load (same operation timestamp): the same cells, nothing else.
    again = _load(conn, keyspace, "kv", src, tmp_path, file_pattern="*.csv", resume=True)
    assert again.timestamp == ts and again.skipped_resumed == 4


def test_duplicate_keys_with_a_list_column_keep_the_last_list(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    """Lists take the request's client timestamp: two records of one key in one batch would merge."""
    session.execute(f"CREATE TABLE {keyspace}.l (k int PRIMARY KEY, xs list<int>, v text)")
    records = [{"k": 1, "xs": [1, 2], "v": "z"}, {"k": 1, "xs": [3], "v": "a"}, {"k": 2, "xs": [5], "v": "b"}]
    records.append({"k": 2, "xs": None, "v": "c"})  # no list: the earlier one stays
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert _load(conn, keyspace, "l", tmp_path / "in.jsonl", tmp_path).errors == 0
    rows = {r.k: (list(r.xs), r.v) for r in session.execute(f"SELECT k, xs, v FROM {keyspace}.l")}
    assert rows == {1: ([3], "a"), 2: ([5], "c")}


# -- 17, 18.5: views ---------------------------------------------------------------------------------------


def test_a_materialized_view_is_exported_but_never_loaded(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    session.execute(
        f"CREATE MATERIALIZED VIEW {keyspace}.by_v AS SELECT k, v FROM {keyspace}.t "
        "WHERE v IS NOT NULL AND k IS NOT NULL PRIMARY KEY (v, k)"
    )
    for i in range(30):
        session.execute(f"INSERT INTO {keyspace}.t (k, v) VALUES ({i}, {i % 4})")
    info = resolve_table(cluster, keyspace, "by_v")
    assert info.view_of == f"{keyspace}.t" and info.partition_key == ("v",)
    deadline = time.monotonic() + 30  # views are built asynchronously
    while session.execute(f"SELECT count(*) FROM {keyspace}.by_v").one()[0] < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    exported = export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path / "out"), splits=3))
    assert sum(r.rows for r in exported.ranges) == 30
    (tmp_path / "in.csv").write_text("v,k\n1,1\n")
    with pytest.raises(
        ConfigError, match=rf"{keyspace}\.by_v is a materialized view of {keyspace}\.t; load into the base table"
    ):
        _load(conn, keyspace, "by_v", tmp_path / "in.csv", tmp_path)
    code, _, err = _cli(cassandra, tmp_path, "-t", f"{keyspace}.by_v", "--url", str(tmp_path / "in.csv"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "is a materialized view" in err
    assert not (tmp_path / "cli").exists() or not list((tmp_path / "cli").glob("load_*"))  # before any write


# -- 18.1: counter writes of unknown outcome ---------------------------------------------------------------


class _FailedFuture:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def add_callbacks(self, ok: Any, err: Any, callback_args: Any = (), errback_args: Any = ()) -> None:
        threading.Thread(target=err, args=(self.exc, *errback_args)).start()


class _TimesOutAfterApplying:
    """The session, except that ``execute_async`` of the counter updates for the ``ids`` applies
    them for real and then reports a write timeout: what a coordinator does when replicas are slow."""

    def __init__(self, session: Any, ids: set[int]) -> None:
        self._session, self.ids = session, ids

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def execute_async(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        from cassandra import WriteTimeout

        values = getattr(statement, "values", None) or []
        key = values[-1] if values else None
        if isinstance(key, bytes) and int.from_bytes(key, "big", signed=True) in self.ids:
            self._session.execute(statement)
            return _FailedFuture(
                WriteTimeout("timed out", write_type=0, consistency=1, required_responses=1, received_responses=0)
            )
        return self._session.execute_async(statement, *args, **kwargs)


def test_counter_write_timeouts_are_reported_as_unknown_not_rejected(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.c (id int PRIMARY KEY, hits counter)")
    (tmp_path / "in.csv").write_text("id,hits\n" + "".join(f"{i},{i + 1}\n" for i in range(20)))
    faulty = _TimesOutAfterApplying(sess, {3, 11})
    options = LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path / "logs"))
    result = load_table(cluster, faulty, resolve_table(cluster, keyspace, "c"), options)
    assert (result.rows_written, result.unknown_outcome, result.rejected, result.failed_writes) == (18, 2, 0, 0)
    # Both increments landed although they "timed out": re-running them would double them.
    assert {r.id: r.hits for r in session.execute(f"SELECT * FROM {keyspace}.c")} == {i: i + 1 for i in range(20)}
    log_dir = Path(result.log_dir)
    assert not (log_dir / "rejects.csv").exists()
    unknown = (log_dir / "unknown.csv").read_text().splitlines()
    assert unknown[0] == "id,hits" and sorted(unknown[1:]) == ['"11","12"', '"3","4"']
    assert "count them twice" in result.summary()["warning"]
    assert all("outcome unknown" in json.loads(x)["reason"] for x in (log_dir / "unknown.log").read_text().splitlines())
    # A resume does not send them again.
    resumed = load_table(
        cluster, sess, resolve_table(cluster, keyspace, "c"), LoadOptions(**{**options.__dict__, "resume": True})
    )
    assert resumed.skipped_resumed == 20 and resumed.rows_written == 0


def test_cli_exit_code_for_unknown_outcomes(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path, monkeypatch: Any, capsys: Any
) -> None:
    from cassandra.cluster import Session

    from cassandra_bulk_core.cli import main

    session.execute(f"CREATE TABLE {keyspace}.c (id int PRIMARY KEY, hits counter)")
    (tmp_path / "in.csv").write_text("id,hits\n1,1\n2,2\n")
    real = Session.execute_async

    def execute_async(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        values = getattr(statement, "values", None) or []
        if values and values[-1] == (2).to_bytes(4, "big"):
            from cassandra import OperationTimedOut

            return _FailedFuture(OperationTimedOut("client timeout"))
        return real(self, statement, *args, **kwargs)

    monkeypatch.setattr(Session, "execute_async", execute_async)
    args = ["load", "-h", cassandra.contact_points[0], "--port", str(cassandra.port), "-t", f"{keyspace}.c"]
    args += ["--url", str(tmp_path / "in.csv"), "--log-dir", str(tmp_path / "logs"), "--no-progress"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == UNKNOWN_OUTCOME_EXIT
    err = capsys.readouterr().err
    assert "unknown outcome" in err and "count them twice" in err and "Traceback" not in err


# -- 18.2: a refused batch: only the bad row fails, at once ---------------------------------------------------


def test_a_refused_batch_fails_only_its_bad_row(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.b (k blob PRIMARY KEY, v int)")
    big = "0x" + "ab" * 70_000  # a partition key over 64 KiB: the server refuses it
    lines = ["k,v"] + [f"0x{i:04x},{i}" for i in range(20)]
    lines[5] = f"{big},4"
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    result = _load(conn, keyspace, "b", tmp_path / "in.csv", tmp_path, csv=_hex())
    assert time.monotonic() - started < 10  # no retries of a refusal
    assert (result.rows_written, result.failed_writes, result.rejected) == (19, 1, 0)
    assert session.execute(f"SELECT count(*) FROM {keyspace}.b").one()[0] == 19
    assert _errors(result)[0]["record"] == 5


def _hex() -> Any:
    return CsvOptions(binary_format="HEX")


class _ServerErrorOnBatches(_TimesOutAfterApplying):
    """Batches holding the ``bad`` value fail with a server error (the NullPointerException a bad
    value used to cause); everything else goes to the node."""

    def __init__(self, session: Any, bad: bytes) -> None:
        super().__init__(session, set())
        self.bad = bad
        self.refused = 0

    def execute_async(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        from cassandra.protocol import ServerError

        parts = getattr(statement, "_statements_and_parameters", None)
        if parts and any(self.bad in values for _, _, values in parts):
            self.refused += 1
            return _FailedFuture(ServerError(0, "java.lang.NullPointerException", None))
        return self._session.execute_async(statement, *args, **kwargs)

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        from cassandra.protocol import ServerError

        if self.bad in (getattr(statement, "values", None) or []):
            raise ServerError(0, "java.lang.NullPointerException", None)
        return self._session.execute(statement, *args, **kwargs)


def test_a_batch_failing_with_a_server_error_is_replayed_row_by_row_at_once(
    keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int, c int, v text, PRIMARY KEY (k, c))")
    (tmp_path / "in.csv").write_text("k,c,v\n" + "".join(f"1,{i},{'bad' if i == 7 else 'ok'}\n" for i in range(20)))
    faulty = _ServerErrorOnBatches(sess, b"bad")
    options = LoadOptions(source=str(tmp_path / "in.csv"), log_dir=str(tmp_path / "logs"))
    started = time.monotonic()
    result = load_table(cluster, faulty, resolve_table(cluster, keyspace, "kv"), options)
    assert time.monotonic() - started < 5 and faulty.refused == 1
    assert (result.rows_written, result.failed_writes, result.retries) == (19, 1, 0)
    assert {r.c for r in session.execute(f"SELECT c FROM {keyspace}.kv WHERE k = 1")} == set(range(20)) - {7}


# -- 18.4: fields that match no column ------------------------------------------------------------------------


def test_a_header_field_matching_no_column_is_reported_not_left_silently_empty(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.u (id int PRIMARY KEY, name text)")
    (tmp_path / "in.csv").write_text("id,nmae\n1,alice\n")
    with pytest.raises(ConfigError, match=r"no source field for column\(s\) name .*fields: id, nmae"):
        _load(conn, keyspace, "u", tmp_path / "in.csv", tmp_path)
    code, out, err = _cli(cassandra, tmp_path, "-t", f"{keyspace}.u", "--url", str(tmp_path / "in.csv"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "name" in err
    assert session.execute(f"SELECT count(*) FROM {keyspace}.u").one()[0] == 0
    # Allowed: the column stays unset, the extra field is reported in the summary.
    result = _load(conn, keyspace, "u", tmp_path / "in.csv", tmp_path, allow_missing_fields=True)
    assert result.rows_written == 1 and result.unmapped_fields == ["nmae"]
    (tmp_path / "extra.csv").write_text("id,name,note\n2,bob,x\n")
    code, out, err = _cli(cassandra, tmp_path, "-t", f"{keyspace}.u", "--url", str(tmp_path / "extra.csv"))
    assert code == 0 and json.loads(out)["unmapped_fields"] == ["note"] and "note" in err
    code, out, err = _cli(
        cassandra, tmp_path, "-t", f"{keyspace}.u", "--url", str(tmp_path / "extra.csv"), "--no-allow-extra-fields"
    )
    assert code == 2 and "note" in err
