"""All 8 range partitions of a table on the 3-node cluster, through Dagster in-process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize

from cassandra_bulk_core.iceberg import iceberg_range_counts
from dagster_cassandra_bulk import CassandraTable, build_cassandra_iceberg_asset, build_cassandra_iceberg_checks
from tests.conftest import connection_config
from tests.dagster.helpers import cassandra_range_counts, iceberg_rows, iceberg_table, resources

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

ROWS = 2000


@pytest.fixture
def cluster_keyspace(cassandra_cluster: Any) -> Iterator[tuple[Any, str]]:
    cluster, session = connection_config(cassandra_cluster).connect()
    name = f"dg_{os.getpid()}"
    replication = "{'class': 'SimpleStrategy', 'replication_factor': 2}"
    session.execute(f"CREATE KEYSPACE IF NOT EXISTS {name} WITH replication = {replication}")
    try:
        yield session, name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")
        cluster.shutdown()


def test_all_ranges_on_three_nodes(cassandra_cluster: Any, cluster_keyspace: tuple[Any, str], tmp_path: Path) -> None:
    from dagster import AssetSelection

    session, keyspace = cluster_keyspace
    session.execute(f"CREATE TABLE {keyspace}.items (id int PRIMARY KEY, name text, price double)")
    insert = session.prepare(f"INSERT INTO {keyspace}.items (id, name, price) VALUES (?, ?, ?)")
    for i in range(ROWS):
        session.execute(insert, (i, f"item-{i}", float(i)))
    table = CassandraTable(keyspace, "items", splits=8)
    asset = build_cassandra_iceberg_asset(table)
    res = resources(cassandra_cluster, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    assert asset.partitions_def is not None
    for key in asset.partitions_def.get_partition_keys():
        assert materialize([asset], resources=res, partition_key=key, instance=instance).success
    ids = [r["id"] for r in iceberg_rows(tmp_path / "wh", f"{keyspace}.items")]
    assert len(ids) == len(set(ids)) == ROWS
    assert sorted(ids) == list(range(ROWS))
    per_range = cassandra_range_counts(cassandra_cluster, keyspace, "items", 8)
    assert sum(per_range.values()) == ROWS
    assert iceberg_range_counts(iceberg_table(tmp_path / "wh", f"{keyspace}.items")) == per_range
    checked = materialize(
        [asset, *build_cassandra_iceberg_checks(table)],
        resources=res,
        instance=instance,
        selection=AssetSelection.all_asset_checks(),
    )
    assert all(e.passed for e in checked.get_asset_check_evaluations())
