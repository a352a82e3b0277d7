"""The maintenance op and job (issue #16 item 4) on a real export: Dagster's in-process executor runs
the engine's compaction, expiry and orphan removal; the op's report is its output and metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg, load_catalog
from cassandra_bulk_core.sinks import SinkOptions
from dagster_cassandra_bulk import IcebergCatalogResource, build_cassandra_iceberg_maintenance_job
from tests.conftest import connection_config

pytestmark = pytest.mark.integration


def test_maintenance_job_compacts_expires_and_removes_orphans(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    for k in range(300):
        session.execute(f"INSERT INTO {keyspace}.kv (k, v) VALUES (%s, %s)", (k, f"v{k}"))
    cluster, sess = connection_config(cassandra).connect()
    try:
        ice = IcebergOptions(warehouse=str(tmp_path / "wh"))
        options = ExportOptions(destination="", splits=3, sink=SinkOptions(max_rows_per_file=10))
        export_to_iceberg(cluster, sess, resolve_table(cluster, keyspace, "kv"), options, ice)
    finally:
        cluster.shutdown()
    ident = f"{keyspace}.kv"
    before = load_catalog(ice).load_table(ident)
    files_before = len(list(before.scan().plan_files()))
    assert files_before >= 30

    job = build_cassandra_iceberg_maintenance_job(
        [ident], target_file_size="1MB", expire_older_than_hours=0, remove_orphans_older_than_hours=0
    )
    result = job.execute_in_process(resources={"iceberg": IcebergCatalogResource(warehouse=str(tmp_path / "wh"))})

    assert result.success
    report = result.output_for_node(f"maintain_{keyspace}__kv")
    assert report["rewrite_small_files"]["files_before"] == files_before
    assert report["rewrite_small_files"]["files_after"] == 3 and report["expired_snapshots"] >= 3
    assert len(report["orphan_files"]) >= files_before
    table = load_catalog(ice).load_table(ident)
    assert len(list(table.scan().plan_files())) == 3 and len(table.snapshots()) == 1
    got = sorted(table.scan().to_arrow().select(["k", "v"]).to_pylist(), key=lambda r: r["k"])
    assert got == [{"k": k, "v": f"v{k}"} for k in range(300)]

    bad = job.execute_in_process(
        resources={"iceberg": IcebergCatalogResource(warehouse=str(tmp_path / "wh"))},
        run_config={"ops": {f"maintain_{keyspace}__kv": {"config": {"target_file_size": "huge"}}}},
        raise_on_error=False,
    )
    assert not bad.success
    failure = bad.failure_data_for_node(f"maintain_{keyspace}__kv")
    assert failure is not None and "cannot read 'huge' as a file size" in str(failure.error)
