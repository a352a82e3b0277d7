"""The ``dg`` example as its README runs it: ``cd examples/dagster && dg dev``, a backfill from the UI.

``dg dev`` (webserver + daemon + code server) serves ``examples/dagster`` unchanged, configured only
through the environment the README documents, and WITHOUT ``CASSANDRA_PASSWORD`` (the test node has
no authentication: optional credentials must stay optional). The backfill of every range partition
is launched as the UI does, through GraphQL (``launchPartitionBackfill``), and the daemon runs it.
Checked: the backfill completes, every range partition is materialized and none failed, each
materialization carries its rows and token bounds, both asset checks passed, and Iceberg holds
exactly Cassandra's rows.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import connection_config
from tests.dagster.helpers import iceberg_table

HOST = "127.0.0.72"
EXAMPLE = Path(__file__).parents[2] / "examples" / "dagster"
DG = str(Path(sys.executable).with_name("dg"))
ROWS = 2000
SPLITS = 16  # the example's
RANGES_PER_RUN = 8  # 2 runs of 8 ranges, side by side (max_concurrent_runs: 2)
BACKFILL_TIMEOUT = 420.0  # a failure bound; about 1-2 min on a quiet 2-core host
DAGSTER_YAML = """\
concurrency:
  runs:
    max_concurrent_runs: 2
code_servers:
  local_startup_timeout: 360
telemetry:
  enabled: false
"""


class GraphQL:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, query: str, **variables: Any) -> Any:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            doc = json.loads(resp.read())
        assert not doc.get("errors"), doc["errors"]
        return doc["data"]


@dataclass
class DgDev:
    gql: GraphQL
    warehouse: Path
    log: Path
    proc: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def events(session: Any, keyspace: str) -> str:
    """``<keyspace>.events``: ROWS rows over the whole ring (the example's table, in a test keyspace)."""
    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"CREATE TABLE {keyspace}.events (id int PRIMARY KEY, kind text, amount double)")
    insert = session.prepare(f"INSERT INTO {keyspace}.events (id, kind, amount) VALUES (?, ?, ?)")
    args = [(i, f"kind-{i % 7}", i * 0.25) for i in range(ROWS)]
    execute_concurrent_with_args(session, insert, args, concurrency=64)
    return keyspace


@pytest.fixture
def dg_dev(cassandra: Any, events: str, tmp_path: Path) -> Iterator[DgDev]:
    """``dg dev`` in examples/dagster, its UI on 127.0.0.72."""
    config = connection_config(cassandra)
    home, warehouse, log_path = tmp_path / "dagster_home", tmp_path / "warehouse", tmp_path / "dg-dev.log"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "DAGSTER_", "ICEBERG_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_DISABLE_TELEMETRY="1",
        CASSANDRA_CONTACT_POINTS=config.contact_points[0],
        CASSANDRA_PORT=str(config.port),
        CASSANDRA_KEYSPACE=events,
        CASSANDRA_BULK_RANGES_PER_RUN=str(RANGES_PER_RUN),
        ICEBERG_WAREHOUSE=str(warehouse),
    )
    if config.username:  # an external cluster with authentication (not the locked test node)
        env.update(CASSANDRA_USERNAME=config.username, CASSANDRA_PASSWORD=config.password or "")
    port = _free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [DG, "dev", "--host", HOST, "--port", str(port)],
            cwd=EXAMPLE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    gql = GraphQL(f"http://{HOST}:{port}/graphql")
    try:
        _wait(lambda: _location_loaded(gql), 180, "the code location to load", proc, log_path)
        yield DgDev(gql, warehouse, log_path, proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait(ready: Any, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dg dev exited ({proc.returncode}):\n{log.read_text(errors='replace')[-4000:]}"
        value = ready()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(
        f"timed out after {timeout:.0f} s waiting for {what}\n{log.read_text(errors='replace')[-4000:]}"
    )


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _location_loaded(gql: GraphQL) -> bool:
    try:
        entries = gql(LOCATIONS)["workspaceOrError"]["locationEntries"]
    except (OSError, AssertionError):
        return False
    kinds = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
    errors = [k.get("message") for k in kinds if k["__typename"] == "PythonError"]
    assert not errors, errors
    return bool(kinds) and all(k["__typename"] == "RepositoryLocation" for k in kinds)


LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions runs { runId status } error { message } } } }"""
PARTITIONS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionKeys assetPartitionStatuses { ... on DefaultPartitionStatuses {
    materializedPartitions failedPartitions materializingPartitions } } } } }"""
MATERIALIZATIONS = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(limit: 100) { partition runId metadataEntries { label __typename
    ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text } } } } } }"""
CHECKS = """query($key: AssetKeyInput!, $name: String!) { assetCheckExecutions(assetKey: $key, checkName: $name,
  limit: 100) { status partition evaluation { success } } }"""


def _backfill(gql: GraphQL, backfill_id: str) -> dict[str, Any] | None:
    try:
        backfill = gql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
    except OSError:  # the webserver is busy on a busy host: ask again
        return None
    assert backfill["__typename"] == "PartitionBackfill", backfill
    return backfill if backfill["status"] not in ("REQUESTED", "CANCELING", "FAILING") else None


@pytest.mark.slow
@pytest.mark.timeout(720)  # services start, run and stop; ~2-4 min on a 2-core host
def test_dg_dev_backfills_every_range_without_a_password(dg_dev: DgDev, session: Any, keyspace: str) -> None:
    gql, warehouse, log = dg_dev.gql, dg_dev.warehouse, dg_dev.log
    key = {"path": [keyspace, "events"]}
    node = gql(PARTITIONS, key=key)["assetNodeOrError"]
    ranges = node["partitionKeys"]
    assert ranges == [f"r{i:02d}-of-{SPLITS}" for i in range(SPLITS)]

    launched = gql(LAUNCH, params={"assetSelection": [key], "allPartitions": True})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    started = time.monotonic()
    backfill = _wait(lambda: _backfill(gql, launched["backfillId"]), BACKFILL_TIMEOUT, "the backfill", dg_dev.proc, log)
    print(f"backfill of {SPLITS} ranges: {time.monotonic() - started:.0f} s")
    assert backfill["status"] == "COMPLETED_SUCCESS", (backfill, log.read_text(errors="replace")[-4000:])
    assert len(backfill["runs"]) == SPLITS // RANGES_PER_RUN  # the README's small-host batching
    assert {r["status"] for r in backfill["runs"]} == {"SUCCESS"}

    statuses = gql(PARTITIONS, key=key)["assetNodeOrError"]["assetPartitionStatuses"]
    assert sorted(statuses["materializedPartitions"]) == ranges
    assert statuses["failedPartitions"] == [] and statuses["materializingPartitions"] == []

    # One materialization per range, with its own rows and token bounds; together, every row.
    events = gql(MATERIALIZATIONS, key=key)["assetOrError"]["assetMaterializations"]
    by_range = {
        e["partition"]: {m["label"]: m.get("intValue", m.get("text")) for m in e["metadataEntries"]} for e in events
    }
    assert sorted(by_range) == ranges and len(events) == SPLITS
    assert sum(int(m["dagster/row_count"]) for m in by_range.values()) == ROWS
    assert all(
        {"cassandra_bulk/token_start", "cassandra_bulk/token_end", "cassandra_bulk/snapshot_id"} <= set(m)
        for m in by_range.values()
    )
    assert "CASSANDRA_PASSWORD" not in json.dumps(events)

    for check in ("row_counts_match", "schema_matches"):
        executions = gql(CHECKS, key=key, name=check)["assetCheckExecutions"]
        assert executions, f"{check} never ran"
        assert {e["status"] for e in executions} == {"SUCCEEDED"}, executions
        assert all(e["evaluation"]["success"] for e in executions)

    data = iceberg_table(warehouse, f"{keyspace}.events").scan(selected_fields=("id", "kind", "amount")).to_arrow()
    got = sorted(zip(*(data.column(c).to_pylist() for c in ("id", "kind", "amount")), strict=True))
    assert got == sorted(
        (r.id, r.kind, r.amount) for r in session.execute(f"SELECT id, kind, amount FROM {keyspace}.events")
    )
    assert len(got) == ROWS
