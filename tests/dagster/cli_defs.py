"""Definitions the CLI tests load with ``dagster ... -f``; everything comes from environment variables.

``CB_TEST_BACKFILL`` picks the asset's backfill policy: ``per_range`` (Dagster's default, one run
per partition), ``single_run`` (what ``dagster asset materialize --partition-range`` requires) or
``batches`` (``BackfillPolicy.multi_run(3)``). The password is an ``EnvVar``, so the tests can look
for its value everywhere Dagster stores things. ``CB_TEST_FAIL_ONCE=<range id>`` makes the first
commit of that range fail in the run worker (a marker file remembers it across processes), to see
Dagster's retry policy at work in a real run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import AssetSelection, BackfillPolicy, Definitions, EnvVar, RetryPolicy, define_asset_job

from dagster_cassandra_bulk import (
    CassandraResource,
    CassandraTable,
    IcebergCatalogResource,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_checks,
)

env = os.environ


def _fail_first_commit_of(range_id: str, marker: Path) -> None:
    import cassandra_bulk_core.iceberg.export as engine  # where export_to_iceberg looks commit_files up

    real = engine.commit_files

    def flaky(catalog: Any, identifier: str, paths: list[str], *args: Any, **kwargs: Any) -> Any:
        if any(f"_cb_range={range_id}/" in p for p in paths) and not marker.exists():
            marker.write_text("failed once")
            raise RuntimeError(f"injected fault: first commit of {range_id}")
        return real(catalog, identifier, paths, *args, **kwargs)

    engine.commit_files = flaky  # type: ignore[assignment]


if env.get("CB_TEST_FAIL_ONCE"):
    _fail_first_commit_of(env["CB_TEST_FAIL_ONCE"], Path(env["CB_TEST_WAREHOUSE"]).parent / "failed-once")
POLICIES = {
    "per_range": None,
    "single_run": BackfillPolicy.single_run(),
    "batches": BackfillPolicy.multi_run(max_partitions_per_run=3),
}
table = CassandraTable(env["CB_TEST_KEYSPACE"], "items", splits=int(env.get("CB_TEST_SPLITS", "8")))
asset = build_cassandra_iceberg_asset(
    table,
    backfill_policy=POLICIES[env.get("CB_TEST_BACKFILL", "per_range")],
    retry_policy=RetryPolicy(max_retries=2, delay=1),
)
defs = Definitions(
    assets=[asset],
    asset_checks=build_cassandra_iceberg_checks(table),
    # the export alone: the row-count check would fail in every run but the last of a backfill
    jobs=[
        define_asset_job(
            "items_job", selection=AssetSelection.assets(asset).without_checks(), partitions_def=asset.partitions_def
        )
    ],
    resources={
        "cassandra": CassandraResource(
            contact_points=env["CB_TEST_CONTACT_POINTS"].split(","),
            port=int(env["CB_TEST_PORT"]),
            local_dc=env.get("CB_TEST_LOCAL_DC") or None,
            username=env.get("CB_TEST_USERNAME") or None,
            password=EnvVar("CB_TEST_PASSWORD"),
        ),
        "iceberg": IcebergCatalogResource(warehouse=env["CB_TEST_WAREHOUSE"]),
    },
)
