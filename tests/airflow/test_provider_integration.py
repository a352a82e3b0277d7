"""The operators against the real node: mapped-task-style export of every range, verify, files, dag.test()."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import CONN_ENV, connection_json

pytestmark = pytest.mark.integration

SECRET = "Sup3r-Secret-Pa55word"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "airflow" / "cassandra_to_iceberg.py"
ROWS = 3000


@pytest.fixture
def secret_conn(cassandra: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The connection carries credentials; the test node has no auth, so made-up ones are accepted
    (the driver only warns) and let us check that the password never escapes."""
    if cassandra.username:
        secret = cassandra.password
        monkeypatch.setenv(CONN_ENV, connection_json(cassandra))
    else:
        secret = SECRET
        doc = json.loads(connection_json(cassandra))
        doc.update(login="cb_user", password=SECRET)
        monkeypatch.setenv(CONN_ENV, json.dumps(doc))
    return secret


@pytest.fixture
def kv(session: Any, keyspace: str) -> str:
    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text, n bigint)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v, n) VALUES (?, ?, ?)")
    execute_concurrent_with_args(session, insert, [(k, f"v{k}", k * 7) for k in range(ROWS)], concurrency=64)
    return f"{keyspace}.kv"


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


def test_example_dag_runs_with_dag_test(
    airflow_db: Path, airflow_conn: Any, kv: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example DAG file itself, from the dags folder (``dag.test()`` syncs that bundle to the DB)."""
    import os
    import shutil

    from airflow.sdk import TaskInstanceState

    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    warehouse = str(tmp_path / "wh")
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_TABLE", kv)
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", warehouse)
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_SPLITS", "8")
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / EXAMPLE.name
    shutil.copy(EXAMPLE, dag_file)
    spec = importlib.util.spec_from_file_location("cb_example_cassandra_to_iceberg", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    run = module.dag.test(logical_date=dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc))
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    exports = [ti for (task, _), ti in tis.items() if task == "export_range"]
    assert len(exports) == 8 and all(ti.state == TaskInstanceState.SUCCESS for ti in exports)
    assert sorted(ti.rendered_map_index for ti in exports) == [f"r{i}-of-8" for i in range(8)]
    assert tis[("verify", -1)].state == TaskInstanceState.SUCCESS
    table = load_catalog(IcebergOptions(warehouse=warehouse)).load_table(kv)
    assert table.scan().to_arrow().num_rows == ROWS
