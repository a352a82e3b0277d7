"""DSBulk mapping forms on the real node: a header-less CSV mapped by position (``-m '0=k,1=v'``
with ``--no-header``) and ``now()`` in a mapping (one value per load, kept by ``--resume``)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.load import LoadAborted, LoadOptions, LoadResult, load_table
from tests.conftest import connection_config


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _load(conn: Any, ks: str, table: str, source: Path, tmp_path: Path, **options: Any) -> LoadResult:
    cluster, sess = conn
    opts = LoadOptions(source=str(source), log_dir=str(tmp_path / "logs"), **options)
    return load_table(cluster, sess, resolve_table(cluster, ks, table), opts)


def _cli(cassandra: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "--log-dir", str(tmp_path / "cli"), "--no-progress"]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=300)


def test_header_less_csv_mapped_by_position(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.pos (k int PRIMARY KEY, v text, w int)")
    data = tmp_path / "pos.csv"
    data.write_text("skip-me,1,one,10\nx,2,two,20\n")  # four fields; the first is not loaded
    res = _cli(cassandra, tmp_path, "-t", f"{keyspace}.pos", "--url", str(data), "--no-header", "-m", "1=k, 2=v, 3=w")
    assert res.returncode == 0, res.stderr
    rows = {r.k: (r.v, r.w) for r in session.execute(f"SELECT k, v, w FROM {keyspace}.pos")}
    assert rows == {1: ("one", 10), 2: ("two", 20)}
    # A mapping by name still reads a header-less file as the table's columns in order.
    plain = tmp_path / "plain.csv"
    plain.write_text("3,three,30\n")
    res = _cli(cassandra, tmp_path, "-t", f"{keyspace}.pos", "--url", str(plain), "--no-header")
    assert res.returncode == 0, res.stderr
    assert session.execute(f"SELECT v FROM {keyspace}.pos WHERE k = 3").one().v == "three"


def test_now_in_a_mapping_writes_the_loads_time(
    cassandra: Any, keyspace: str, session: Any, conn: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.stamped (k int PRIMARY KEY, v text, ts timestamp, tu timeuuid)")
    data = tmp_path / "data.csv"
    data.write_text("k,v\n" + "".join(f"{i},v{i}\n" for i in range(50)))
    mapping = {"k": "k", "v": "v", "now()": ["ts", "tu"]}
    result = _load(conn, keyspace, "stamped", data, tmp_path, mapping=mapping)
    assert result.rows_written == 50 and result.errors == 0
    rows = list(session.execute(f"SELECT k, ts, tu FROM {keyspace}.stamped"))
    assert len({r.ts for r in rows}) == 1 and len({r.tu for r in rows}) == 1  # one value per load
    ts, tu = rows[0].ts, rows[0].tu
    assert isinstance(tu, uuid.UUID) and tu.version == 1
    assert (tu.time - 0x01B21DD213814000) // 10 == result.timestamp  # the load's operation timestamp
    assert abs((tu.time - 0x01B21DD213814000) // 10_000 - _epoch_ms(ts)) <= 1
    # The CLI form: -m 'k=k, now()=ts' into a header-less file mapped by position, too.
    session.execute(f"TRUNCATE {keyspace}.stamped")
    plain = tmp_path / "plain.csv"
    plain.write_text("7,seven\n")
    res = _cli(
        cassandra, tmp_path, "-t", f"{keyspace}.stamped", "--url", str(plain), "--no-header", "-m", "0=k, 1=v, now()=ts"
    )
    assert res.returncode == 0, res.stderr
    row = session.execute(f"SELECT v, ts, tu FROM {keyspace}.stamped WHERE k = 7").one()
    assert row.v == "seven" and row.ts is not None and row.tu is None
    # now() into a column of another type is refused before any write.
    with pytest.raises(Exception, match="timestamp or timeuuid column, not 'v'"):
        _load(conn, keyspace, "stamped", data, tmp_path, mapping={"k": "k", "now()": "v"})


def test_now_is_the_same_value_after_a_resume(keyspace: str, session: Any, conn: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.resumed (k int PRIMARY KEY, v int, tu timeuuid)")
    data = tmp_path / "data.csv"
    data.write_text("k,v\n" + "".join(f"{i},{i if i != 5 else 'bad'}\n" for i in range(20)))
    mapping = {"k": "k", "v": "v", "now()": "tu"}
    with pytest.raises(LoadAborted):
        _load(conn, keyspace, "resumed", data, tmp_path, mapping=mapping, max_errors=0)
    first = {r.tu for r in session.execute(f"SELECT tu FROM {keyspace}.resumed")}
    data.write_text("k,v\n" + "".join(f"{i},{i}\n" for i in range(20)))  # fixed; same fingerprint
    result = _load(conn, keyspace, "resumed", data, tmp_path, mapping=mapping, resume=True)
    assert result.errors == 0
    after = {r.tu for r in session.execute(f"SELECT tu FROM {keyspace}.resumed")}
    assert len(after) == 1 and (not first or first == after)
    assert session.execute(f"SELECT count(*) FROM {keyspace}.resumed").one()[0] == 20


def _epoch_ms(ts: Any) -> int:
    import calendar

    return calendar.timegm(ts.utctimetuple()) * 1000 + ts.microsecond // 1000
