"""The fault suite (``pytest -m faults``): real faults on a 3-node cluster of its own.

The cluster (127.0.0.51-53, started once per run by ``tools/local_cassandra`` and shared by every
case) is the one thing here a test may break: nodes are SIGKILLed, restarted, SIGSTOPped. Each case
puts back what it broke before it ends, so the order of the cases does not matter. Every case
asserts exact row sets (keys and values), not counts.

The security cases share a node of their own (127.0.0.54: password authentication, mutual TLS with a
throw-away CA), ``tls_node`` below.

The ``faults`` marker is registered here (not in pyproject), and every test under this directory
carries it, plus ``cluster`` and ``slow``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tools.local_cassandra import LocalCluster, Node

FAULTS_BASE = 51
ROWS = 10_000
"""Rows of each shared source table: enough for a kill to land mid-operation when it is throttled
(small pages, one stream), few enough that the suite stays within its CI minutes."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: real faults (node kills, stalls, process kills) on a cluster of its own"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent) + os.sep
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.slow)


@dataclass
class FaultCluster:
    """The suite's cluster, with the faults a test may inject into it."""

    local: LocalCluster
    stopped: set[int] = field(default_factory=set)

    @property
    def hosts(self) -> str:
        return ",".join(self.local.contact_points)

    def node(self, index: int) -> Node:
        return self.local.node_list[index - 1]

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (1-based) and wait until it is gone."""
        node = self.node(index)
        pid = node.pid()
        assert pid is not None, f"node {index} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while node.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert node.pid() is None, f"node {index} survived SIGKILL"

    def pause(self, index: int) -> None:
        pid = self.node(index).pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        self.stopped.add(index)

    def resume(self, index: int) -> None:
        pid = self.node(index).pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        self.stopped.discard(index)

    def heal(self) -> None:
        """Every node running and answering, every node seeing the whole ring."""
        for index in list(self.stopped):
            self.resume(index)
        if not self.local.is_running():
            self.local.start()
        else:
            self.local._wait_ring(120)

    def connect(self, **overrides: Any) -> tuple[Any, Any]:
        """A fresh driver session (a new one sees restarted nodes at once)."""
        from cassandra_bulk_core import ConnectionConfig

        return ConnectionConfig(contact_points=tuple(self.local.contact_points), **overrides).connect()


@pytest.fixture(scope="session")
def fault_cluster() -> Iterator[FaultCluster]:
    local = LocalCluster(name="pytest-faults", nodes=3, base_address=FAULTS_BASE, commitlog_sync="batch")
    was_running = local.is_running()
    local.start()  # starts what is not running (a killed node of an earlier run too)
    fc = FaultCluster(local)
    try:
        yield fc
    finally:
        from tests.conftest import _shutdown_driver_clusters

        for index in list(fc.stopped):
            fc.resume(index)
        _shutdown_driver_clusters()
        if not was_running and os.environ.get("CASSANDRA_KEEP_RUNNING", "") != "1":
            local.stop()


def expected_rows(n: int = ROWS) -> set[tuple[int, int, str]]:
    return {(i // 2, i % 2, f"v{i}") for i in range(n)}


def _fill(session: Any, keyspace: str, rf: int, n: int) -> None:
    from cassandra import ConsistencyLevel
    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    session.execute(
        f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"
    )
    session.execute(f"CREATE TABLE {keyspace}.kv (k int, c int, v text, PRIMARY KEY ((k), c))")
    # One request per partition (its two rows in one statement), written on every replica.
    insert = session.prepare(
        f"BEGIN UNLOGGED BATCH INSERT INTO {keyspace}.kv (k, c, v) VALUES (?, 0, ?); "
        f"INSERT INTO {keyspace}.kv (k, c, v) VALUES (?, 1, ?); APPLY BATCH"
    )
    insert.consistency_level = ConsistencyLevel.ALL
    params = [(k, f"v{2 * k}", k, f"v{2 * k + 1}") for k in range(n // 2)]
    results = execute_concurrent_with_args(session, insert, params, concurrency=64, raise_on_first_error=True)
    assert all(ok for ok, _ in results)


@pytest.fixture(scope="session")
def source_tables(fault_cluster: FaultCluster) -> Iterator[dict[int, str]]:
    """``{rf: keyspace}``: the same ROWS rows in a table ``kv`` at RF=1 and at RF=2."""
    cluster, session = fault_cluster.connect()
    try:
        for rf in (1, 2):
            _fill(session, f"faults_rf{rf}", rf, ROWS)
        yield {1: "faults_rf1", 2: "faults_rf2"}
    finally:
        cluster.shutdown()


def table_rows(fault_cluster: FaultCluster, qualified: str) -> set[tuple[int, int, str]]:
    """Every row, read at consistency ALL from a fresh session (every replica answers)."""
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    cluster, session = fault_cluster.connect()
    try:
        stmt = SimpleStatement(
            f"SELECT k, c, v FROM {qualified}", consistency_level=ConsistencyLevel.ALL, fetch_size=5000
        )
        return {(r.k, r.c, r.v) for r in session.execute(stmt, timeout=60)}
    finally:
        cluster.shutdown()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cassandra_bulk_core", *args]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end with stdin closed (nothing may prompt)."""
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for(predicate: Any, timeout: float, what: str, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"{what}: the process ended first (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def summary_of(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


# -- the security node (127.0.0.54) ---------------------------------------------------------------

TLS_BASE = 54
TLS_ADDRESS = f"127.0.0.{TLS_BASE}"
TLS_ROWS = 300
"""Rows of ``sec.kv`` (k int PRIMARY KEY, v text): ``(k, f"v{k}")`` for k < TLS_ROWS."""


def tls_cluster(san: tuple[str, ...] | None = None) -> LocalCluster:
    return LocalCluster(
        name="pytest-tls", nodes=1, base_address=TLS_BASE, heap="512M", auth=True, tls=True, tls_client_auth=True,
        tls_san=san,
    )  # fmt: skip


def start_tls(local: LocalCluster) -> None:
    """Start the node with ``local``'s certificate (restarting it when it runs with another one)."""
    want = ",".join(local.tls_san) if local.tls_san else f"IP:{TLS_ADDRESS}"
    marker = local.tls_files.directory / f"node-{TLS_ADDRESS}.san"
    if local.is_running() and (not marker.exists() or marker.read_text() != want):
        local.stop()
    local.start()


def tls_admin_session(local: LocalCluster, user: str = "cassandra", password: str = "cassandra") -> tuple[Any, Any]:
    from cassandra_bulk_core import ConnectionConfig

    files = local.tls_files
    config = ConnectionConfig(
        contact_points=(TLS_ADDRESS,), username=user, password=password, ssl_enabled=True, ssl_ca_file=str(files.ca),
        ssl_cert_file=str(files.client_cert), ssl_key_file=str(files.client_key),
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while True:  # the default superuser appears a moment after the node answers
        try:
            return config.connect()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.fixture(scope="session")
def tls_node_session() -> Iterator[dict[str, Any]]:
    local = tls_cluster()
    was_running = local.is_running()
    start_tls(local)
    password = "pw-" + secrets.token_hex(12)  # new each run: found in an artefact only if leaked
    user = "bulk_" + secrets.token_hex(4)
    cluster, session = tls_admin_session(local)
    try:
        # A role of its own per run (a password may change only every 5 s).
        session.execute(f"CREATE ROLE {user} WITH LOGIN = true AND SUPERUSER = true AND PASSWORD = '{password}'")
        session.execute(
            "CREATE KEYSPACE IF NOT EXISTS sec WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        session.execute("DROP TABLE IF EXISTS sec.kv")
        session.execute("CREATE TABLE sec.kv (k int PRIMARY KEY, v text)")
        insert = session.prepare("INSERT INTO sec.kv (k, v) VALUES (?, ?)")
        for i in range(TLS_ROWS):
            session.execute(insert, (i, f"v{i}"))
    finally:
        cluster.shutdown()
    files = local.tls_files
    yield {
        "local": local,
        "files": files,
        "password": password,
        "user": user,
        "key_password": files.key_password_file.read_text(),
    }
    if not was_running and os.environ.get("CASSANDRA_KEEP_RUNNING", "") != "1":
        local.stop()


@pytest.fixture
def tls_node(tls_node_session: dict[str, Any]) -> dict[str, Any]:
    """The security node, running with its own certificate (a case may have restarted it with
    another one: ``test_security.py``'s host-name case), its role's password and the key's pass phrase."""
    start_tls(tls_cluster())
    return tls_node_session


def tls_secrets(node: dict[str, Any]) -> dict[str, str]:
    """The password, the key pass phrase, and a piece of every private key's PEM body."""
    files = node["files"]
    found = {"password": node["password"], "key password": node["key_password"]}
    for name, path in {
        "client key": files.client_key,
        "encrypted client key": files.client_key_encrypted,
        "node key": files.node(TLS_ADDRESS),
        "CA key": files.directory / "ca.key",
    }.items():
        body = [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
        found[name] = body[1][:40] if len(body) > 1 else body[0][:40]
    return found


def secret_leaks(node: dict[str, Any], files: list[Path], texts: list[str]) -> list[str]:
    """Where a secret of ``node`` (:func:`tls_secrets`) shows up: in which of ``files`` (bytes) and
    ``texts`` (what runs printed or logged). Empty when nothing leaked."""
    leaks = []
    for name, secret in tls_secrets(node).items():
        leaks += [f"{name} in {path}" for path in files if secret.encode() in path.read_bytes()]
        leaks += [f"{name} in printed or logged text #{i}" for i, text in enumerate(texts) if secret in text]
    return leaks
