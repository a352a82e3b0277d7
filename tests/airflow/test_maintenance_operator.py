"""The maintenance operator (issue #16 item 4) on a real export: compaction, expiry and orphan removal
through the engine; the templated fields render from the context; bad input fails without retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
from airflow_provider_cassandra_bulk.operators.maintenance import CassandraIcebergMaintenanceOperator
from airflow_provider_cassandra_bulk.ranges import plan_descriptors
from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg, load_catalog
from cassandra_bulk_core.sinks import SinkOptions
from tests.conftest import connection_config


def test_maintenance_operator_compacts_expires_and_cleans(
    airflow_conn: Any, cassandra: Any, kv: str, tmp_path: Path
) -> None:
    wh = str(tmp_path / "wh")
    cluster, sess = connection_config(cassandra).connect()
    try:  # small files: 10 rows each
        info = resolve_table(cluster, *kv.split("."))
        options = ExportOptions(destination="", splits=4, sink=SinkOptions(max_rows_per_file=10))
        export_to_iceberg(cluster, sess, info, options, IcebergOptions(warehouse=wh))
    finally:
        cluster.shutdown()
    # a nightly run of the operator (the first two ranges): history to expire
    for descriptor in plan_descriptors(4)[:2]:
        CassandraToIcebergOperator(task_id="e", table=kv, range_id=descriptor, warehouse=wh).execute({})
    table = load_catalog(IcebergOptions(warehouse=wh)).load_table(kv)
    rows = sorted(table.scan().to_arrow().to_pylist(), key=str)
    op = CassandraIcebergMaintenanceOperator(
        task_id="maintain",
        iceberg_table="{{ params.table }}",
        warehouse=wh,
        target_file_size="{{ params.size }}",
        expire_older_than_hours=0,
        remove_orphans_older_than_hours=0,
    )
    assert "iceberg_table" in op.template_fields and "target_file_size" in op.template_fields
    op.render_template_fields({"params": {"table": kv, "size": "1MB"}})
    report = op.execute({})
    assert report["table"] == kv and report["expired_snapshots"] >= 4
    rewrite = report["rewrite_small_files"]
    assert rewrite["ranges_rewritten"] == 2 and rewrite["ranges_at_target"] == 2  # re-exported: one file
    assert rewrite["files_after"] == 4 and rewrite["files_before"] > 8
    table = load_catalog(IcebergOptions(warehouse=wh)).load_table(kv)
    assert len(table.snapshots()) == 1 and sorted(table.scan().to_arrow().to_pylist(), key=str) == rows
    assert report["orphan_files"] and not any(Path(p.removeprefix("file://")).exists() for p in report["orphan_files"])

    from airflow.sdk.exceptions import AirflowFailException

    for bad in ({"target_file_size": "lots"}, {"iceberg_table": "nope.missing"}):
        args = {"iceberg_table": kv, "warehouse": wh, **bad}
        with pytest.raises(AirflowFailException, match=r"lots|does not exist"):
            CassandraIcebergMaintenanceOperator(task_id="m", **args).execute({})
