"""The operators against the real node, called as a worker would (one map index at a time):
Iceberg and files export, verify, count, on_kill, OpenLineage facets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import ROWS

pytestmark = pytest.mark.integration


def test_mapped_style_iceberg_export_then_verify(
    secret_conn: str,
    kv: str,
    session: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from airflow.sdk.exceptions import AirflowException

    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
        RANGE_CONTEXT_KEY,
        CassandraIcebergVerifyOperator,
        CassandraRangePlanOperator,
        CassandraToIcebergOperator,
    )
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    warehouse = str(tmp_path / "wh")
    caplog.set_level(logging.DEBUG)
    plan = CassandraRangePlanOperator(task_id="plan", splits=8).execute({})
    assert len(plan) == 8
    xcoms = []
    for descriptor in plan:  # what .expand(range_id=plan.output) does, one map index at a time
        op = CassandraToIcebergOperator(task_id="export_range", table=kv, warehouse=warehouse, range_id=descriptor)
        context: dict[str, Any] = {}
        xcoms.append(op.execute(context))
        assert context[RANGE_CONTEXT_KEY] == descriptor["range_id"]
    assert [x["range_id"] for x in xcoms] == [d["range_id"] for d in plan]
    assert sum(x["rows"] for x in xcoms) == ROWS
    assert all(x["files"] >= 0 and x["bytes"] >= 0 for x in xcoms)
    snapshots = [x["snapshot_id"] for x in xcoms if x["rows"]]
    assert all(isinstance(s, int) for s in snapshots) and len(set(snapshots)) == len(snapshots)

    verify = CassandraIcebergVerifyOperator(task_id="verify", table=kv, splits=8, warehouse=warehouse)
    result = verify.execute({})
    assert result["ok"] is True and result["cassandra_rows"] == result["iceberg_rows"] == ROWS
    table = load_catalog(IcebergOptions(warehouse=warehouse)).load_table(kv)
    assert table.scan().to_arrow().num_rows == ROWS

    # A retry of one map index replaces that range's rows: no duplicates.
    again = CassandraToIcebergOperator(task_id="export_range", table=kv, warehouse=warehouse, range_id=plan[3])
    assert again.execute({})["rows"] == xcoms[3]["rows"]
    table = load_catalog(IcebergOptions(warehouse=warehouse)).load_table(kv)
    keys = table.scan(selected_fields=("k",)).to_arrow().column("k").to_pylist()
    assert len(keys) == len(set(keys)) == ROWS

    # Rows deleted in Cassandra after the export: verify fails the task.
    for k in range(5):
        session.execute(f"DELETE FROM {kv} WHERE k = %s", (k,))
    with pytest.raises(AirflowException, match="range\\(s\\) differ"):
        verify.execute({})

    leaked = json.dumps([plan, xcoms, result]) + caplog.text + capsys.readouterr().out
    assert secret_conn not in leaked


def test_files_operator_exports_each_range(airflow_conn: Any, kv: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import CassandraToFilesOperator
    from airflow_provider_cassandra_bulk.ranges import plan_descriptors

    dest = tmp_path / "files"
    outs = []
    for d in plan_descriptors(4):
        op = CassandraToFilesOperator(task_id="files", table=kv, destination=str(dest), range_id=d["range_id"])
        outs.append(op.execute({}))
    assert sum(o["rows"] for o in outs) == ROWS
    parts = sorted(dest.glob("*.parquet"))
    assert len(parts) == sum(o["files"] for o in outs)
    assert sum(pq.read_metadata(p).num_rows for p in parts) == ROWS

    jsonl = CassandraToFilesOperator(
        task_id="all", table=kv, destination=str(tmp_path / "j"), file_format="jsonl", splits=2
    ).execute({})
    assert jsonl["rows"] == ROWS and jsonl["range_id"] == "all" and jsonl["format"] == "jsonl"


def test_daily_mode_takes_the_logical_date_from_the_context(airflow_conn: Any, kv: str, tmp_path: Path) -> None:
    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
        CassandraIcebergVerifyOperator,
        CassandraToIcebergOperator,
    )

    kw: dict[str, Any] = {"table": kv, "warehouse": str(tmp_path / "wh"), "mode": "daily"}
    out = CassandraToIcebergOperator(task_id="e", splits=2, **kw).execute({"ds": "2026-11-20"})
    assert out["export_date"] == "2026-11-20" and out["rows"] == ROWS and out["range_id"] == "all"
    ok = CassandraIcebergVerifyOperator(task_id="v", splits=2, **kw).execute({"ds": "2026-11-20"})
    assert ok["iceberg_rows"] == ROWS
    # Another day's slice is empty until exported.
    from airflow.sdk.exceptions import AirflowException

    with pytest.raises(AirflowException):
        CassandraIcebergVerifyOperator(task_id="v", splits=2, **kw).execute({"ds": "2026-11-21"})


def test_count_operator_per_range_and_window(airflow_conn: Any, kv: str) -> None:
    from airflow_provider_cassandra_bulk.operators.count import CassandraCountOperator
    from airflow_provider_cassandra_bulk.ranges import plan_descriptors
    from cassandra_bulk_core.ring import plan_ranges

    whole = CassandraCountOperator(task_id="count", table=kv, splits=4).execute({})
    assert whole["rows"] == ROWS and whole["range_id"] == "all" and sum(whole["per_range"].values()) == ROWS
    # Mapped style: one descriptor per instance; the per-range counts add up to the whole.
    per = [CassandraCountOperator(task_id="c", table=kv, range_id=d).execute({}) for d in plan_descriptors(4)]
    assert {p["range_id"]: p["rows"] for p in per} == whole["per_range"]
    # A token window (count_window): r1-of-4's tokens hold what the range count says.
    r1 = plan_ranges(4)[1].tokens
    window = CassandraCountOperator(task_id="w", table=kv, start_token=str(r1.start), end_token=str(r1.end)).execute({})
    assert window["rows"] == whole["per_range"]["r1-of-4"] and window["per_range"] == {}
    with pytest.raises(ValueError, match="both"):
        CassandraCountOperator(task_id="w", table=kv, start_token="0").execute({})


def test_on_kill_during_an_export_stops_it(
    airflow_conn: Any, kv: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``on_kill`` (what Airflow calls when a running task is killed) shuts the driver down: the
    running export fails fast with TaskKilled, and nothing of the range is committed."""
    import threading
    import time

    from airflow_provider_cassandra_bulk.operators.base import TaskKilled
    from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
    from cassandra_bulk_core import scan as scan_module
    from tests.airflow.conftest import iceberg_table

    # Slow the scan down (10 rows a page, 20 ms each to convert) so the kill lands mid-range.
    pages: list[int] = []
    real_to_batch = scan_module.TableScan.to_batch

    def slow_to_batch(self: Any, rows: list[Any]) -> Any:
        pages.append(len(rows))
        time.sleep(0.02)
        return real_to_batch(self, rows)

    monkeypatch.setattr(scan_module.TableScan, "to_batch", slow_to_batch)
    warehouse = str(tmp_path / "wh")
    op = CassandraToIcebergOperator(
        task_id="export_range", table=kv, warehouse=warehouse, splits=1, page_size=10, streams=1
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = op.execute({})
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while len(pages) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pages) >= 5, "the export never started"
    cluster = op.hook._cluster
    killed_at = time.monotonic()
    op.on_kill()
    worker.join(timeout=60)
    assert not worker.is_alive()
    stopped_after = time.monotonic() - killed_at
    assert isinstance(outcome.get("error"), TaskKilled), outcome
    assert stopped_after < 20 and cluster.is_shutdown
    assert sum(pages) < ROWS  # stopped part-way, not run to the end
    assert len(iceberg_table(warehouse, kv).scan().to_arrow()) == 0  # no commit for the killed range


def test_openlineage_facets_on_complete(airflow_conn: Any, kv: str, tmp_path: Path) -> None:
    """Through the installed OpenLineage provider's own extractor, as its listener calls it."""
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from airflow_provider_cassandra_bulk.operators.export import CassandraToFilesOperator, CassandraToIcebergOperator
    from airflow_provider_cassandra_bulk.operators.verify import CassandraIcebergVerifyOperator

    cassandra = airflow_conn
    warehouse = tmp_path / "wh"
    columns = {"k": "int", "v": "text", "n": "bigint"}
    export = CassandraToIcebergOperator(task_id="e", table=kv, warehouse=str(warehouse), splits=2)
    files = CassandraToFilesOperator(task_id="f", table=kv, destination=str(tmp_path / "files"), splits=2)
    verify = CassandraIcebergVerifyOperator(task_id="v", table=kv, warehouse=str(warehouse), splits=2)
    for op in (export, files, verify):
        assert ExtractorManager().get_extractor_class(op) is DefaultExtractor
        op.execute({})
        lineage = DefaultExtractor(op).extract_on_complete(None)
        assert lineage is not None
        (source,) = lineage.inputs
        assert source.namespace == f"cassandra://{cassandra.contact_points[0]}:{cassandra.port}"
        assert source.name == kv
        assert {f.name: f.type for f in source.facets["schema"].fields} == columns
        (target,) = lineage.outputs
        if op is files:
            assert (target.namespace, target.name) == ("file", str((tmp_path / "files").absolute()))
        else:
            assert (target.namespace, target.name) == (warehouse.absolute().as_uri(), kv)
        assert {f.name: f.type for f in target.facets["schema"].fields} == columns


def test_hook_test_connection_against_the_node(secret_conn: str, cassandra: Any) -> None:
    """The UI's Test button: the connection from the environment, a real round trip."""
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    hook = CassandraBulkHook()
    ok, message = hook.test_connection()
    assert ok is True and message.startswith("Connected to Cassandra 5.")
    assert f"{cassandra.contact_points[0]}:{cassandra.port}" in message and secret_conn not in message
    assert hook.lineage_namespace == f"cassandra://{cassandra.contact_points[0]}:{cassandra.port}"
