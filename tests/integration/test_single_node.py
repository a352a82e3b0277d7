"""Against the real single node: round trip, engine count (total, per range, window), CLI, errors."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import subprocess
import sys
import uuid
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core import (
    ConfigError,
    ConnectionConfig,
    ConnectionFailed,
    TokenRange,
    count_table,
    count_window,
    plan_ranges,
    resolve_table,
)
from tests.conftest import connection_config

ROWS = 10_000


def _fill(session: Any, keyspace: str, rows: int = ROWS) -> list[tuple[Any, ...]]:
    session.execute(
        f"CREATE TABLE {keyspace}.events (id int, bucket int, name text, amount decimal, at timestamp, "
        "tags set<text>, uid uuid, PRIMARY KEY ((id), bucket))"
    )
    insert = session.prepare(
        f"INSERT INTO {keyspace}.events (id, bucket, name, amount, at, tags, uid) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    data = [
        (
            i // 2,
            i % 2,
            f"name-{i}-é",
            decimal.Decimal(i) / 100,
            base + dt.timedelta(seconds=i),
            {f"t{i % 5}"},
            uuid.UUID(int=i),
        )
        for i in range(rows)
    ]
    results = execute_concurrent_with_args(session, insert, data, concurrency=64, raise_on_first_error=True)
    assert all(ok for ok, _ in results)
    return data


def test_write_10k_rows_and_read_them_back(session: Any, keyspace: str) -> None:
    data = _fill(session, keyspace)
    got = {
        (r.id, r.bucket): r
        for r in session.execute(f"SELECT id, bucket, name, amount, at, tags, uid FROM {keyspace}.events")
    }
    assert len(got) == ROWS
    for row in data:
        r = got[(row[0], row[1])]
        assert (r.name, r.amount, r.tags, r.uid) == (row[2], row[3], row[5], row[6])
        assert r.at.replace(tzinfo=dt.timezone.utc) == row[4]


def test_engine_count_matches_rows_in_total_per_range_and_window(cassandra: Any, keyspace: str, session: Any) -> None:
    _fill(session, keyspace)
    cluster, sess = connection_config(cassandra).connect()
    try:
        table = resolve_table(cluster, keyspace, "events")
        # Client-side truth: the partition tokens of every row.
        tokens = [r[0] for r in sess.execute(f"SELECT token(id) FROM {keyspace}.events")]
        assert len(tokens) == ROWS
        for n in (1, 7, 64):
            plan = plan_ranges(n)
            result = count_table(cluster, sess, table, plan, concurrency=8)
            assert result.total == ROWS
            expected = {r.id: sum(1 for t in tokens if t in r.tokens) for r in plan}
            assert result.per_range == expected
            assert result.queries >= n
        window = TokenRange(-(2**62), 2**61)
        assert count_window(cluster, sess, table, window) == sum(1 for t in tokens if t in window)
    finally:
        cluster.shutdown()


def test_cli_count_prints_the_row_count(cassandra: Any, keyspace: str, session: Any) -> None:
    _fill(session, keyspace, rows=2_000)
    host = ",".join(cassandra.contact_points)
    base = [sys.executable, "-m", "cassandra_bulk_core", "count", "-h", host, "--port", str(cassandra.port)]
    out = subprocess.run([*base, "-t", f"{keyspace}.events", "-s", "5"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2000"
    out = subprocess.run([*base, "-k", keyspace, "-t", "events", "--json"], capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    assert doc["total"] == 2000 and sum(doc["per_range"].values()) == 2000
    assert sum(doc["per_host"].values()) == 2000


def test_unknown_table_is_one_line_with_a_suggestion(cassandra: Any, keyspace: str, session: Any) -> None:
    _fill(session, keyspace, rows=10)
    cluster, _ = connection_config(cassandra).connect()
    try:
        with pytest.raises(ConfigError, match=r"table .*\.evnts does not exist \(did you mean 'events'\?\)"):
            resolve_table(cluster, keyspace, "evnts")
        with pytest.raises(ConfigError, match="keyspace 'no_such_ks' does not exist"):
            resolve_table(cluster, "no_such_ks", "events")
    finally:
        cluster.shutdown()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "cassandra_bulk_core",
            "count",
            "-h",
            cassandra.contact_points[0],
            "--port",
            str(cassandra.port),
            "-t",
            f"{keyspace}.evnts",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "did you mean 'events'" in res.stderr
    assert "Traceback" not in res.stderr


def test_unreachable_host_is_a_clear_error() -> None:
    cfg = ConnectionConfig(contact_points="127.0.0.254", port=1, connect_timeout=2)
    with pytest.raises(ConnectionFailed, match=r"no Cassandra host answered at 127\.0\.0\.254 port 1"):
        cfg.connect()
