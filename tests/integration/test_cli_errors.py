"""Issue "Faults and security", items 10-13, against the real node: one line, a documented exit
code, the cause and the option to change; nothing created before a refused option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def _cli(cassandra: Any, *args: str) -> subprocess.CompletedProcess[str]:
    host = ["-h", cassandra.contact_points[0], "--port", str(cassandra.port)]
    quiet = ["--no-progress"] if args[0] in ("export", "load") else []
    cmd = [sys.executable, "-m", "cassandra_bulk_core", *args[:1], *host, *args[1:], *quiet]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _one_line(out: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert all(f in out.stderr for f in fragments), out.stderr


def test_tls_client_at_a_plain_node_is_told_to_drop_ssl_and_json_logs_have_no_tracebacks(
    cassandra: Any, keyspace: str, session: Any
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    out = _cli(cassandra, "count", "-t", f"{keyspace}.t", "--ssl", "--no-ssl-verify-hostname")
    _one_line(out, 3, "no Cassandra host answered", "drop --ssl")
    logged = _cli(cassandra, "export", "-t", f"{keyspace}.t", "--url", "unused", "--log-json", "--ssl")
    assert logged.returncode == 3 and "Traceback" not in logged.stderr, logged.stderr
    assert "drop --ssl" in logged.stderr.strip().splitlines()[-1]


def test_unwritable_destination_exits_2_before_any_range(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = _cli(cassandra, "export", "-t", f"{keyspace}.t", "--url", str(blocker / "sub"))
    _one_line(out, 2, str(blocker), "--url")
    assert "--resume" not in out.stderr


def test_unknown_range_with_iceberg_creates_no_namespace_or_table(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    wh = tmp_path / "wh"
    out = _cli(
        cassandra, "export", "-t", f"{keyspace}.t", "--to", "iceberg", "--warehouse", str(wh), "--ranges", "r20-of-16"
    )
    _one_line(out, 2, "unknown range id(s) r20-of-16")
    assert not wh.exists()


def test_conflicting_keyspaces_and_range_options(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.t (k int PRIMARY KEY, v int)")
    out = _cli(cassandra, "count", "-k", "other_ks", "-t", f"{keyspace}.t")
    assert out.returncode == 2 and "name two keyspaces" in out.stderr and "Traceback" not in out.stderr
    src = tmp_path / "in.csv"
    src.write_text("k,v\n1,1\n")
    out = _cli(cassandra, "load", "-t", f"{keyspace}.t", "--url", str(src), "--range", "r01-of-4", "--end-token", "0")
    assert out.returncode == 2 and "--range and --start-token/--end-token" in out.stderr
    assert list(session.execute(f"SELECT * FROM {keyspace}.t")) == []
