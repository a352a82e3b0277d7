"""The dg component: loads from defs.yaml, builds valid definitions (no Cassandra needed)."""

from __future__ import annotations

import yaml
from dagster import AssetKey, Definitions
from dagster.components.testing import create_defs_folder_sandbox

from dagster_cassandra_bulk import CassandraIcebergComponent, CassandraResource

DEFS_YAML = """
type: dagster_cassandra_bulk.CassandraIcebergComponent
attributes:
  cassandra:
    contact_points: ["127.0.0.1"]
    username: "{{ env('CB_TEST_USERNAME') }}"
    password_env_var: CB_TEST_PASSWORD
  catalog:
    warehouse: warehouse
  splits: 8
  ranges_per_run: 4
  max_retries: 5
  schedule: "0 2 * * *"
  tables:
    - keyspace: shop
      table: orders
    - keyspace: shop
      table: orders
      mode: daily
      start_date: "2026-11-01"
      iceberg_table: shop.orders_daily
      asset_key: lake/orders_daily
    - keyspace: shop
      table: customers
      splits: 4
      mode: daily
      start_date: "2026-11-01"
"""


def test_component_from_yaml_builds_valid_defs(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CB_TEST_PASSWORD", "pw-from-env")
    monkeypatch.setenv("CB_TEST_USERNAME", "etl")
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(CassandraIcebergComponent, defs_yaml_contents=yaml.safe_load(DEFS_YAML))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (loaded, defs):
            assert isinstance(loaded, CassandraIcebergComponent)
            _assert_defs(defs)


def _assert_defs(defs: Definitions) -> None:
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {AssetKey(["shop", "orders"]), AssetKey(["shop", "customers"]), AssetKey(["lake", "orders_daily"])}
    assert set(graph.get_all_asset_keys()) == keys
    orders = defs.resolve_assets_def(AssetKey(["shop", "orders"]))
    assert orders.partitions_def is not None and len(orders.partitions_def.get_partition_keys()) == 8
    assert orders.backfill_policy is not None and orders.backfill_policy.max_partitions_per_run == 4
    assert orders.node_def.retry_policy is not None and orders.node_def.retry_policy.max_retries == 5
    daily = defs.resolve_assets_def(AssetKey(["lake", "orders_daily"]))
    assert daily.specs_by_key[daily.key].metadata["dagster/table_name"] == "shop.orders_daily"
    assert len(list(graph.asset_check_keys)) == 6
    assert len(list(defs.schedules or [])) == 3
    resources = defs.resources or {}
    cassandra = resources["cassandra"]
    assert isinstance(cassandra, CassandraResource)
    assert cassandra.username == "etl"
    assert cassandra.process_config_and_initialize().connection_config().password == "pw-from-env"
    assert "pw-from-env" not in repr(cassandra)


LOADS_YAML = """
type: dagster_cassandra_bulk.CassandraIcebergComponent
attributes:
  catalog:
    warehouse: warehouse
  splits: 8
  log_dir: /tmp/cb-loads
  tables:
    - keyspace: shop
      table: orders
    - keyspace: shop
      table: orders
      mode: daily
      start_date: "2026-11-01"
      iceberg_table: shop.orders_daily
      asset_key: lake/orders_daily
  loads:
    - keyspace: restore
      table: orders
      from_table: shop.orders
    - keyspace: restore
      table: orders_daily
      from_table: lake/orders_daily
      max_errors: 10
    - keyspace: restore
      table: archive
      iceberg_table: other.archive
      splits: 4
      upstream_asset_key: lake/archive
      asset_key: restore/archive
    - keyspace: restore
      table: from_files
      path: s3://bucket/export/orders
      format: parquet
"""


def test_component_declares_loads_next_to_exports() -> None:
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(CassandraIcebergComponent, defs_yaml_contents=yaml.safe_load(LOADS_YAML))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (_, defs):
            Definitions.validate_loadable(defs)
            orders = defs.resolve_assets_def(AssetKey(["shop", "orders"]))
            restored = defs.resolve_assets_def(AssetKey(["cassandra", "restore", "orders"]))
            assert restored.partitions_def == orders.partitions_def
            spec = restored.specs_by_key[restored.key]
            assert [d.asset_key for d in spec.deps] == [orders.key]
            assert set(spec.kinds) == {"iceberg", "cassandra"}
            daily = defs.resolve_assets_def(AssetKey(["cassandra", "restore", "orders_daily"]))
            assert [d.asset_key for d in daily.specs_by_key[daily.key].deps] == [AssetKey(["lake", "orders_daily"])]
            assert daily.specs_by_key[daily.key].metadata["cassandra_bulk/source"] == "shop.orders_daily"
            archive = defs.resolve_assets_def(AssetKey(["restore", "archive"]))
            assert archive.partitions_def is not None and len(archive.partitions_def.get_partition_keys()) == 4
            assert [d.asset_key for d in archive.specs_by_key[archive.key].deps] == [AssetKey(["lake", "archive"])]
            files = defs.resolve_assets_def(AssetKey(["cassandra", "restore", "from_files"]))
            assert set(files.specs_by_key[files.key].kinds) == {"parquet", "cassandra"}
            assert files.partitions_def is not None and len(files.partitions_def.get_partition_keys()) == 8
