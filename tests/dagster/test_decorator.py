"""``@cassandra_iceberg_assets``: a user-written body calling ``CassandraResource.export_ranges``."""

from pathlib import Path
from typing import Any

import pytest
from dagster import AssetExecutionContext, DagsterInstance, MaterializeResult, materialize

from dagster_cassandra_bulk import CassandraResource, CassandraTable, IcebergCatalogResource, cassandra_iceberg_assets
from tests.dagster.helpers import cassandra_range_counts, fill, iceberg_rows, resources

pytestmark = pytest.mark.integration


def test_user_body_exports_one_partition(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    fill(session, keyspace, 200)
    calls: list[str] = []

    @cassandra_iceberg_assets(table=CassandraTable(keyspace, "items", splits=4))
    def items(
        context: AssetExecutionContext, cassandra: CassandraResource, iceberg: IcebergCatalogResource
    ) -> MaterializeResult:
        calls.append(context.partition_key)  # the body is the user's: wrap or extend the export
        result = cassandra.export_ranges(context, catalog=iceberg)
        return MaterializeResult(metadata={**(result.metadata or {}), "extra": "mine"})

    assert items.partitions_def is not None
    assert items.partitions_def.get_partition_keys() == [f"r{i}-of-4" for i in range(4)]
    assert {"cassandra", "iceberg"} <= items.required_resource_keys

    key = "r2-of-4"
    result = materialize(
        [items],
        resources=resources(cassandra, tmp_path / "wh"),
        partition_key=key,
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success and calls == [key]
    (mat,) = result.asset_materializations_for_node(items.node_def.name)
    md = {k: v.value for k, v in mat.metadata.items()}
    expected = cassandra_range_counts(cassandra, keyspace, "items", 4)[key]
    assert md["extra"] == "mine" and md["cassandra_bulk/ranges"] == key
    assert md["dagster/row_count"] == expected > 0
    assert len(iceberg_rows(tmp_path / "wh", f"{keyspace}.items")) == expected


def test_the_resource_closes_its_session_after_the_run(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    """No module-level session cache: the run's resource opens the driver and its teardown shuts it."""
    fill(session, keyspace, 10)
    seen: list[Any] = []

    @cassandra_iceberg_assets(table=CassandraTable(keyspace, "items", splits=1))
    def items(
        context: AssetExecutionContext, cassandra: CassandraResource, iceberg: IcebergCatalogResource
    ) -> MaterializeResult:
        seen.append(cassandra.get_session()[0])
        assert cassandra.get_session()[0] is seen[0]  # one driver per initialized resource
        return cassandra.export_ranges(context, catalog=iceberg)

    res = resources(cassandra, tmp_path / "wh")
    assert materialize([items], resources=res, partition_key="r0-of-1").success
    assert len(seen) == 1 and seen[0].is_shutdown
