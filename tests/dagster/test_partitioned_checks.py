"""``row_counts_match`` in a partitioned run checks that run's ranges, not the whole table.

Found by running the example under ``dg dev``: a backfill in batches of 4 ranges runs the checks in
every batch, and a whole-table check failed the first three (their ranges were exported, the
others not yet). Run without partitions, the check still covers every range.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dagster import AssetSelection, DagsterInstance, materialize

from dagster_cassandra_bulk import (
    CassandraTable,
    backfill_policy_for,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_checks,
)
from tests.dagster.helpers import fill, iceberg_table, resources


def _evaluations(result: Any) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_row_count_check_covers_the_runs_ranges(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    fill(session, keyspace, 200)
    table = CassandraTable(keyspace, "items", splits=8)
    asset = build_cassandra_iceberg_asset(table, backfill_policy=backfill_policy_for(4))
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()

    # A batch of ranges 0-3, checks in the same run: they pass on those ranges alone.
    first = materialize(
        [asset, *checks],
        resources=res,
        instance=instance,
        tags={"dagster/asset_partition_range_start": "r0-of-8", "dagster/asset_partition_range_end": "r3-of-8"},
    )
    assert first.success
    counts = _evaluations(first)["row_counts_match"]
    assert counts.passed, counts.metadata
    assert counts.metadata["ranges_checked"].value == 4
    exported = iceberg_table(tmp_path / "wh", f"{keyspace}.items").scan().to_arrow().num_rows
    assert 0 < exported < 200
    assert counts.metadata["cassandra_rows"].value == counts.metadata["iceberg_rows"].value == exported

    # Unpartitioned, the check covers the table: ranges 4-7 are missing, and it says so.
    whole = _evaluations(
        materialize([asset, *checks], resources=res, instance=instance, selection=AssetSelection.all_asset_checks())
    )["row_counts_match"]
    assert not whole.passed
    assert whole.metadata["ranges_checked"].value == 8
    assert sorted(whole.metadata["mismatches"].value) == [f"r{i}-of-8" for i in range(4, 8)]


def test_daily_check_covers_the_runs_date_and_ranges(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    fill(session, keyspace, 120)
    table = CassandraTable(keyspace, "items", splits=4, mode="daily", start_date="2026-11-01")
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    run = materialize([asset, *checks], resources=res, instance=instance, partition_key="2026-11-02|r2-of-4")
    assert run.success
    counts = _evaluations(run)["row_counts_match"]
    assert counts.passed, counts.metadata
    assert counts.metadata["ranges_checked"].value == 1
    assert counts.metadata["export_date"].value == dt.date(2026, 11, 2).isoformat()
