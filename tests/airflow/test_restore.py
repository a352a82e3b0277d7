"""The load direction against the real node: the restore example DAG (``dag.test()``) reloads an
exported table into an empty table with equal contents; the load operators one range at a time
(Iceberg and files), rejects, snapshots, OpenLineage."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import ROWS, iceberg_table, load_example, task_instances
from tests.airflow.test_credentials import _log_files, _stored_for

pytestmark = pytest.mark.integration

DAY = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
SPLITS = 8

RICH_COLUMNS = (
    "pk text, ck int, ts timestamp, u uuid, d decimal, flag boolean, tags set<text>, "
    "attrs map<text, int>, blob_v blob, day date, PRIMARY KEY (pk, ck)"
)


@pytest.fixture
def rich(session: Any, keyspace: str) -> str:
    """``<keyspace>.rich``: clustering rows, collections, decimals, timestamps, nulls."""
    import decimal
    import uuid

    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"CREATE TABLE {keyspace}.rich ({RICH_COLUMNS})")
    insert = session.prepare(
        f"INSERT INTO {keyspace}.rich (pk, ck, ts, u, d, flag, tags, attrs, blob_v, day) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    rows = []
    for i in range(400):
        for ck in range(3):
            n = i * 3 + ck
            rows.append(
                (
                    f"p{i}",
                    ck,
                    base + dt.timedelta(seconds=n, milliseconds=n % 1000),
                    uuid.UUID(int=n + 1),
                    decimal.Decimal(f"{n}.{n % 100:02d}"),
                    None if n % 7 == 0 else n % 2 == 0,
                    {f"t{n % 5}", f"x{n % 3}"} if n % 4 else None,
                    {"a": n, "b": -n} if n % 3 else None,
                    bytes([n % 256, 1, 2]),
                    (base + dt.timedelta(days=n % 300)).date(),
                )
            )
    execute_concurrent_with_args(session, insert, rows, concurrency=64)
    return f"{keyspace}.rich"


def _all_rows(session: Any, table: str) -> list[tuple[Any, ...]]:
    """Every row, in a stable order, as plain tuples (compared value by value)."""
    rows = [tuple(r) for r in session.execute(f"SELECT * FROM {table}")]
    return sorted(rows, key=repr)


def _empty_copy(session: Any, table: str, columns: str) -> str:
    target = table + "_restored"
    session.execute(f"CREATE TABLE {target} ({columns})")
    return target


def _export(table: str, warehouse: str, splits: int = SPLITS) -> list[dict[str, Any]]:
    """The export, as the export DAG's mapped instances run it (one range each)."""
    from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
    from airflow_provider_cassandra_bulk.ranges import plan_descriptors

    return [
        CassandraToIcebergOperator(task_id="export_range", table=table, warehouse=warehouse, range_id=d).execute({})
        for d in plan_descriptors(splits)
    ]


def _stored_xcoms(dag_id: str) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    with Session() as s:
        return [x.value for x in s.query(XComModel).filter(XComModel.dag_id == dag_id)]


def test_restore_example_reloads_an_export_into_an_empty_table(
    airflow_db: Path,
    secret_conn: str,
    rich: str,
    session: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    warehouse = str(tmp_path / "wh")
    assert sum(x["rows"] for x in _export(rich, warehouse)) == 1200
    target = _empty_copy(session, rich, RICH_COLUMNS)
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_RESTORE_TABLE", target)
    module = load_example("iceberg_to_cassandra_restore", monkeypatch, table=rich, warehouse=warehouse, splits=SPLITS)

    run = module.dag.test(logical_date=DAY)
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    loads = [ti for (task, _), ti in tis.items() if task == "restore.load_range"]
    assert len(loads) == SPLITS and all(ti.state == "success" for ti in loads)
    assert sorted(ti.rendered_map_index for ti in loads) == [f"r{i}-of-{SPLITS}" for i in range(SPLITS)]
    source_rows = _all_rows(session, rich)
    assert len(source_rows) == 1200
    assert _all_rows(session, target) == source_rows

    # Every range read its own slice through _cb_range: nothing of other ranges was even read.
    xcoms = [x for x in _stored_xcoms(module.dag.dag_id) if isinstance(x, dict) and "rows_written" in x]
    assert len(xcoms) == SPLITS
    assert sum(x["rows_written"] for x in xcoms) == sum(x["records"] for x in xcoms) == 1200
    assert all(x["errors"] == 0 and x["skipped_other_range"] == 0 for x in xcoms)
    snapshot = iceberg_table(warehouse, rich).current_snapshot().snapshot_id
    assert {x["snapshot_id"] for x in xcoms} == {snapshot} and {x["iceberg_table"] for x in xcoms} == {rich}

    # A second run rewrites the same cells: same rows, no duplicates.
    again = module.dag.test(logical_date=DAY + dt.timedelta(hours=1))
    assert again.state == "success"
    assert _all_rows(session, target) == source_rows

    out, err = capfd.readouterr()
    everything = "\n".join(_stored_for(module.dag.dag_id)) + caplog.text + out + err + _log_files()
    assert "rows_written" in everything and "r7-of-8" in everything
    assert secret_conn not in everything


def test_restore_example_restores_a_chosen_snapshot(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows deleted in Cassandra and re-exported are gone from the current snapshot; restoring the
    earlier snapshot (the run's ``snapshot_id`` parameter) brings every one of them back."""
    warehouse = str(tmp_path / "wh")
    _export(kv, warehouse)
    before = iceberg_table(warehouse, kv).current_snapshot().snapshot_id
    for k in range(100):
        session.execute(f"DELETE FROM {kv} WHERE k = %s", (k,))
    _export(kv, warehouse)
    assert iceberg_table(warehouse, kv).scan().to_arrow().num_rows == ROWS - 100

    target = _empty_copy(session, kv, "k int PRIMARY KEY, v text, n bigint")
    module = load_example("iceberg_to_cassandra_restore", monkeypatch, table=kv, warehouse=warehouse, splits=SPLITS)
    run = module.dag.test(logical_date=DAY, run_conf={"target_table": target, "snapshot_id": before})
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    assert tis[("restore.snapshot", -1)].xcom_pull(task_ids="restore.snapshot") == before
    assert _all_rows(session, target) == sorted(((k, k * 7, f"v{k}") for k in range(ROWS)), key=repr)  # k, n, v


def test_load_operators_one_range_at_a_time_from_iceberg_and_files(
    airflow_conn: Any, kv: str, session: Any, tmp_path: Path
) -> None:
    from airflow_provider_cassandra_bulk.operators.base import RANGE_CONTEXT_KEY
    from airflow_provider_cassandra_bulk.operators.export import CassandraToFilesOperator
    from airflow_provider_cassandra_bulk.operators.load import FilesToCassandraOperator, IcebergToCassandraOperator
    from airflow_provider_cassandra_bulk.ranges import plan_descriptors

    columns = "k int PRIMARY KEY, v text, n bigint"
    source_rows = _all_rows(session, kv)
    warehouse = str(tmp_path / "wh")
    _export(kv, warehouse, splits=4)

    # Iceberg, mapped style; a group of ranges (the planner's output past max_map_length) too.
    ice_target = _empty_copy(session, kv, columns)
    kw: dict[str, Any] = {"table": ice_target, "iceberg_table": kv, "warehouse": warehouse, "log_dir": str(tmp_path)}
    outs = []
    for descriptor in plan_descriptors(4, max_map_length=3):
        context: dict[str, Any] = {}
        outs.append(IcebergToCassandraOperator(task_id="load", range_id=descriptor, **kw).execute(context))
        assert context[RANGE_CONTEXT_KEY] == descriptor["range_id"]
    assert [o["range_id"] for o in outs] == ["r0-of-4", "r1-of-4", "r2-of-4,r3-of-4"]
    assert sum(o["rows_written"] for o in outs) == ROWS and _all_rows(session, ice_target) == source_rows
    assert all(Path(o["log_dir"]).is_dir() for o in outs)
    json.dumps(outs)

    # Files an export named per range (Parquet), then one whole-table load of JSON Lines.
    files = tmp_path / "files"
    for d in plan_descriptors(4):
        CassandraToFilesOperator(task_id="f", table=kv, destination=str(files), range_id=d).execute({})
    file_target = kv + "_from_files"
    session.execute(f"CREATE TABLE {file_target} ({columns})")
    got = [
        FilesToCassandraOperator(
            task_id="load", table=file_target, source=str(files), range_id=d, log_dir=str(tmp_path)
        ).execute({})
        for d in plan_descriptors(4)
    ]
    assert sum(o["rows_written"] for o in got) == sum(o["records"] for o in got) == ROWS  # by name: no re-reads
    assert _all_rows(session, file_target) == source_rows
    whole = FilesToCassandraOperator(task_id="all", table=file_target, source=str(files), log_dir=str(tmp_path))
    result = whole.execute({})
    assert result["range_id"] == "all" and result["rows_written"] == ROWS and result["source"] == str(files)
    assert _all_rows(session, file_target) == source_rows


def test_rejected_records_fail_the_task_unless_allowed(
    airflow_conn: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    from airflow.sdk.exceptions import AirflowException

    from airflow_provider_cassandra_bulk.operators.load import FilesToCassandraOperator

    session.execute(f"CREATE TABLE {keyspace}.small (k int PRIMARY KEY, v text)")
    data = tmp_path / "in.csv"
    data.write_text("k,v\n1,a\nnot-a-number,b\n3,c\n")
    kw: dict[str, Any] = {"table": f"{keyspace}.small", "source": str(data), "log_dir": str(tmp_path / "logs")}
    with pytest.raises(AirflowException, match="max_errors=0") as failure:
        FilesToCassandraOperator(task_id="strict", **kw).execute({})
    assert "rejects.csv" in str(failure.value)
    ok = FilesToCassandraOperator(task_id="lenient", max_errors=1, **kw).execute({})
    assert (ok["rows_written"], ok["rejected"], ok["errors"]) == (2, 1, 1)
    assert "not-a-number" in (Path(ok["log_dir"]) / "rejects.csv").read_text()
    assert sorted(tuple(r) for r in session.execute(f"SELECT k, v FROM {keyspace}.small")) == [(1, "a"), (3, "c")]


def test_load_openlineage_facets(airflow_conn: Any, kv: str, session: Any, tmp_path: Path) -> None:
    from airflow.providers.openlineage.extractors.base import DefaultExtractor

    from airflow_provider_cassandra_bulk.operators.export import CassandraToFilesOperator
    from airflow_provider_cassandra_bulk.operators.load import FilesToCassandraOperator, IcebergToCassandraOperator

    cassandra = airflow_conn
    warehouse = tmp_path / "wh"
    _export(kv, str(warehouse), splits=2)
    CassandraToFilesOperator(task_id="f", table=kv, destination=str(tmp_path / "files"), splits=2).execute({})
    target = _empty_copy(session, kv, "k int PRIMARY KEY, v text, n bigint")
    ice = IcebergToCassandraOperator(
        task_id="i", table=target, iceberg_table=kv, warehouse=str(warehouse), range_id="r0-of-2", log_dir=str(tmp_path)
    )
    files = FilesToCassandraOperator(
        task_id="f", table=target, source=str(tmp_path / "files"), range_id="r1-of-2", log_dir=str(tmp_path)
    )
    for op in (ice, files):
        op.execute({})
        lineage = DefaultExtractor(op).extract_on_complete(None)
        assert lineage is not None
        (source,) = lineage.inputs
        if op is ice:
            assert (source.namespace, source.name) == (warehouse.absolute().as_uri(), kv)
        else:
            assert (source.namespace, source.name) == ("file", str((tmp_path / "files").absolute()))
        (written,) = lineage.outputs
        assert written.namespace == f"cassandra://{cassandra.contact_points[0]}:{cassandra.port}"
        assert written.name == target
        assert {f.name: f.type for f in written.facets["schema"].fields} == {"k": "int", "v": "text", "n": "bigint"}


def test_on_kill_during_a_load_stops_its_writes(airflow_conn: Any, kv: str, session: Any, tmp_path: Path) -> None:
    """``on_kill`` shuts the driver down: not one more row is written after it. (The engine's load
    has no cancel yet, so its thread keeps retrying on the closed session until Airflow's
    supervisor kills the process, as it does after ``on_kill``; with ``LoadOptions.cancel`` the
    operator also sets that, and the load then stops by itself.)"""
    import threading
    import time

    from airflow_provider_cassandra_bulk.operators.load import IcebergToCassandraOperator

    warehouse = str(tmp_path / "wh")
    _export(kv, warehouse, splits=1)
    target = _empty_copy(session, kv, "k int PRIMARY KEY, v text, n bigint")
    op = IcebergToCassandraOperator(
        task_id="load",
        table=target,
        iceberg_table=kv,
        warehouse=warehouse,
        log_dir=str(tmp_path),
        batch_mode="disabled",
        concurrency=1,
        max_rows_per_second=300,  # 3000 rows: about 10 s unless killed
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = op.execute({})
        except BaseException as exc:
            outcome["error"] = exc

    def written() -> int:
        return int(session.execute(f"SELECT count(*) FROM {target}").one()[0])

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and written() < 100:
        time.sleep(0.1)
    cluster = op.hook._cluster
    op.on_kill()
    assert cluster.is_shutdown and op.hook._cluster is None
    time.sleep(0.5)  # requests already on the wire land
    at_kill = written()
    time.sleep(3)
    assert written() == at_kill < ROWS and "result" not in outcome
    worker.join(timeout=1)
