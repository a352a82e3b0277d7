"""Every example DAG, run with ``dag.test()`` against the real node and the SQLite Iceberg catalog:
one mapped instance per range, Iceberg rows = Cassandra rows, verify passes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import ROWS, cassandra_rows, iceberg_table, load_example, task_instances

pytestmark = pytest.mark.integration

DAY = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)


def _asset_events(uri: str) -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.settings import Session

    with Session() as s:
        (asset_id,) = s.query(AssetModel.id).filter(AssetModel.uri == uri).one()
        return list(s.query(AssetEvent).filter(AssetEvent.asset_id == asset_id).order_by(AssetEvent.id).all())


def test_explicit_example_exports_every_range_and_verifies(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import TaskInstanceState

    warehouse = str(tmp_path / "wh")
    module = load_example("cassandra_to_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=8)
    run = module.dag.test(logical_date=DAY)
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    exports = [ti for (task, _), ti in tis.items() if task == "export_range"]
    assert len(exports) == 8 and all(ti.state == TaskInstanceState.SUCCESS for ti in exports)
    # The operators' default map_index_template names each instance by its range.
    assert sorted(ti.rendered_map_index for ti in exports) == [f"r{i}-of-8" for i in range(8)]
    assert tis[("verify", -1)].state == TaskInstanceState.SUCCESS
    assert iceberg_table(warehouse, kv).scan().to_arrow().num_rows == cassandra_rows(session, kv) == ROWS
    from airflow_provider_cassandra_bulk.operators.verify import iceberg_asset

    # The asset names the warehouse it lives in: iceberg:/<tmp>/wh/<keyspace>/kv
    asset = iceberg_asset(kv, warehouse=warehouse)
    assert asset.uri == f"iceberg:{Path(warehouse).absolute()}/{kv.replace('.', '/')}"
    (event,) = _asset_events(asset.uri)[-1:]
    assert event.extra["rows"] == ROWS and event.extra["ranges"] == 8


def test_nightly_example_files_rows_under_the_data_interval_date(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra_bulk_core.iceberg import DATE_COLUMN

    warehouse = str(tmp_path / "wh")
    # The README's "by hand" order: the mirror example first, into the same warehouse; the nightly
    # example has its own table, so it does not collide with the mirror (it once failed every range).
    mirror = load_example("cassandra_to_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=4)
    assert mirror.dag.test(logical_date=DAY).state == "success"
    module = load_example("cassandra_nightly_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=4)
    dates = []
    for day in (DAY, DAY + dt.timedelta(days=1)):
        run = module.dag.test(logical_date=day)
        tis = task_instances(run)
        assert run.state == "success", {k: ti.state for k, ti in tis.items()}
        exports = [ti for (task, _), ti in tis.items() if task == "nightly.export_range"]
        assert len(exports) == 4
        verify = run.get_task_instance("nightly.verify")
        assert verify is not None and verify.state == "success"
        dates.append(run.data_interval_start.date())
        assert run.data_interval_start.date() == day.date()  # @daily (cron trigger): the interval starts at the run
    table = iceberg_table(warehouse, f"{kv}_nightly").scan().to_arrow()
    assert table.num_rows == 2 * cassandra_rows(session, kv)  # one full slice per night
    per_date = table.group_by(DATE_COLUMN).aggregate([(DATE_COLUMN, "count")]).to_pylist()
    assert {(r[DATE_COLUMN], r[f"{DATE_COLUMN}_count"]) for r in per_date} == {(d, ROWS) for d in dates}


def test_backfill_example_exports_only_the_ranges_in_the_run_conf(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra_bulk_core.ring import range_by_id
    from cassandra_bulk_core.table import resolve_table

    warehouse = str(tmp_path / "wh")
    module = load_example("cassandra_backfill_ranges", monkeypatch, table=kv, warehouse=warehouse, splits=8)
    chosen = ["r5-of-8", "r2-of-8", "r6-of-8"]
    run = module.dag.test(logical_date=DAY, run_conf={"ranges": chosen})
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    exports = [ti for (task, _), ti in tis.items() if task == "backfill.export_range"]
    assert sorted(ti.rendered_map_index for ti in exports) == sorted(chosen)
    verify = tis[("backfill.verify", -1)]
    assert verify.state == "success" and verify.xcom_pull(task_ids="backfill.verify")["ranges"] == 3

    # Iceberg holds exactly those ranges, each with Cassandra's count for it.
    from cassandra_bulk_core.count import count_table
    from cassandra_bulk_core.iceberg import RANGE_COLUMN

    cluster = session.cluster
    ks, name = kv.split(".")
    expected = count_table(cluster, session, resolve_table(cluster, ks, name), [range_by_id(r) for r in chosen])
    got = iceberg_table(warehouse, kv).scan(selected_fields=(RANGE_COLUMN,)).to_arrow().column(RANGE_COLUMN)
    assert {r: got.to_pylist().count(r) for r in set(got.to_pylist())} == expected.per_range
    assert 0 < len(got) < ROWS


def test_plan_groups_ranges_past_max_map_length(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``[core] max_map_length`` = 3, a plan of 8 ranges would fail the run (Airflow refuses
    to map over more); the planner reads the setting and hands out 3 groups instead."""
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "3")
    warehouse = str(tmp_path / "wh")
    module = load_example("cassandra_to_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=8)
    run = module.dag.test(logical_date=DAY)
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    exports = sorted((ti for (task, _), ti in tis.items() if task == "export_range"), key=lambda t: t.map_index)
    assert len(exports) == 3
    assert [ti.rendered_map_index for ti in exports] == [
        "r0-of-8,r1-of-8",
        "r2-of-8,r3-of-8,r4-of-8",
        "r5-of-8,r6-of-8,r7-of-8",
    ]
    assert iceberg_table(warehouse, kv).scan().to_arrow().num_rows == cassandra_rows(session, kv)
    assert tis[("verify", -1)].state == "success"


def test_demo_runs_the_example_with_the_airflow_cli(airflow_conn: Any, kv: str, session: Any, tmp_path: Path) -> None:
    """``examples/airflow/demo.py``: its own AIRFLOW_HOME, ``airflow db migrate``, ``airflow dags test``."""
    import importlib.util

    from tests.airflow.conftest import EXAMPLES

    spec = importlib.util.spec_from_file_location("cb_airflow_demo", EXAMPLES / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    keyspace, table = kv.split(".")
    cassandra = airflow_conn
    rows = demo.run(cassandra.contact_points[0], cassandra.port, keyspace, table, str(tmp_path / "wh"))
    assert rows == cassandra_rows(session, kv) == ROWS


EXPAND_KWARGS_DAG = """
import datetime as dt
import os

from airflow.sdk import DAG

from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
from airflow_provider_cassandra_bulk.operators.plan import CassandraRangePlanOperator

with DAG("cb_expand_kwargs", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) as dag:
    plan = CassandraRangePlanOperator(task_id="plan", splits=4)
    CassandraToIcebergOperator.partial(
        task_id="export_range", table=os.environ["CB_TABLE"], warehouse=os.environ["CB_WAREHOUSE"]
    ).expand_kwargs(plan.output.map(lambda d: {"range_id": d}))
"""


def test_mapped_export_with_expand_kwargs(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner's descriptors also feed ``expand_kwargs`` (one dict of operator arguments each)."""
    import importlib.util
    import os

    warehouse = str(tmp_path / "wh")
    monkeypatch.setenv("CB_TABLE", kv)
    monkeypatch.setenv("CB_WAREHOUSE", warehouse)
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "cb_expand_kwargs.py"
    dag_file.write_text(EXPAND_KWARGS_DAG)
    spec = importlib.util.spec_from_file_location("cb_expand_kwargs", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test(logical_date=DAY)
    tis = task_instances(run)
    assert run.state == "success", {k: ti.state for k, ti in tis.items()}
    exports = [ti for (task, _), ti in tis.items() if task == "export_range"]
    assert sorted(ti.rendered_map_index for ti in exports) == [f"r{i}-of-4" for i in range(4)]
    assert iceberg_table(warehouse, kv).scan().to_arrow().num_rows == cassandra_rows(session, kv) == ROWS
