"""Count at CI scale, and the one-line errors a user sees for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core import ConnectionConfig, ConnectionFailed, count_table, plan_ranges, resolve_table
from tests.conftest import connection_config
from tools.local_cassandra import LocalCluster

ROWS = 100_000


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cassandra_bulk_core", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_count_equals_100k_rows_written(cassandra: Any, keyspace: str, session: Any) -> None:
    session.execute(f"CREATE TABLE {keyspace}.big (p int, c int, v text, PRIMARY KEY ((p), c))")
    insert = session.prepare(f"INSERT INTO {keyspace}.big (p, c, v) VALUES (?, ?, ?)")
    results = execute_concurrent_with_args(
        session,
        insert,
        ((i // 10, i % 10, "x" * 20) for i in range(ROWS)),
        concurrency=128,
        raise_on_first_error=True,
        results_generator=True,
    )
    assert sum(1 for ok, _ in results if ok) == ROWS
    cluster, sess = connection_config(cassandra).connect()
    try:
        result = count_table(cluster, sess, resolve_table(cluster, keyspace, "big"), plan_ranges(32))
    finally:
        cluster.shutdown()
    assert result.total == ROWS
    out = _cli("count", "-h", cassandra.contact_points[0], "--port", str(cassandra.port), "-t", f"{keyspace}.big")
    assert out.returncode == 0 and out.stdout.strip() == str(ROWS)


def test_unknown_column_names_the_column_and_a_close_match(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, amount int)")
    out = _cli(
        "export",
        "-h",
        cassandra.contact_points[0],
        "--port",
        str(cassandra.port),
        "-t",
        f"{keyspace}.t",
        "--columns",
        "k,amout",
        "--url",
        str(tmp_path / "x"),
    )
    assert out.returncode == 2
    assert "unknown column(s)" in out.stderr and "'amout' (did you mean 'amount'?)" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_unwritable_destination_is_one_line(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    session.execute(f"INSERT INTO {keyspace}.t (k, v) VALUES (1, 1)")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = _cli(
        "export",
        "-h",
        cassandra.contact_points[0],
        "--port",
        str(cassandra.port),
        "-t",
        f"{keyspace}.t",
        "--url",
        str(blocker / "sub"),
        "--no-progress",
    )
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr
    assert str(blocker) in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def auth_node() -> Iterator[LocalCluster]:
    cluster = LocalCluster(name="pytest-auth", nodes=1, base_address=41, auth=True, heap="512M")
    was_running = cluster.is_running()
    if not was_running:
        cluster.start()
    yield cluster
    if not was_running:
        cluster.stop()


@pytest.mark.slow
def test_credentials_right_and_wrong_without_leaking_the_password(auth_node: LocalCluster) -> None:
    host = auth_node.contact_points[0]
    with pytest.raises(ConnectionFailed, match="authentication failed as 'cassandra'"):
        ConnectionConfig(contact_points=host, username="cassandra", password="wrong-secret-123").connect()
    cluster, _ = ConnectionConfig(contact_points=host, username="cassandra", password="cassandra").connect()
    cluster.shutdown()
    out = _cli("count", "-h", host, "-u", "cassandra", "-p", "wrong-secret-123", "-t", "system_auth.roles")
    assert out.returncode == 3
    assert "authentication failed" in out.stderr and "wrong-secret-123" not in out.stderr + out.stdout
    out = _cli("count", "-h", host, "-u", "cassandra", "-p", "cassandra", "-t", "system_auth.roles", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["total"] >= 1
