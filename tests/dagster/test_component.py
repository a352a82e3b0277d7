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


def test_an_unset_password_variable_means_no_password(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A cluster without authentication: CASSANDRA_PASSWORD unset must not fail every run at config
    time (Dagster refuses an EnvVar that is not set); the resource simply has no password."""
    monkeypatch.delenv("CB_TEST_PASSWORD", raising=False)
    monkeypatch.setenv("CB_TEST_USERNAME", "")
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(CassandraIcebergComponent, defs_yaml_contents=yaml.safe_load(DEFS_YAML))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (_loaded, defs):
            cassandra = (defs.resources or {})["cassandra"]
            assert isinstance(cassandra, CassandraResource)
            config = cassandra.process_config_and_initialize().connection_config()
            assert config.password is None and config.username is None


TLS_YAML = """
type: dagster_cassandra_bulk.CassandraIcebergComponent
attributes:
  cassandra:
    contact_points: ["10.0.0.1"]
    username: etl
    password_env_var: CB_TEST_PASSWORD
    ssl_enabled: true
    ssl_ca_file: /etc/cb/ca.pem
    ssl_cert_file: /etc/cb/client.crt
    ssl_key_file: /etc/cb/client.key
    ssl_key_password_env_var: CB_TEST_KEY_PASSWORD
    ssl_verify_hostname: false
  tables:
    - keyspace: shop
      table: orders
"""


def test_component_passes_mutual_tls_and_the_key_pass_phrase_by_variable(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Mutual TLS with an encrypted key from ``defs.yaml``: the pass phrase by variable name, resolved
    at run time (an ``EnvVar``), never in the resource's repr."""
    monkeypatch.setenv("CB_TEST_PASSWORD", "pw-from-env")
    monkeypatch.setenv("CB_TEST_KEY_PASSWORD", "key-phrase-from-env")
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(CassandraIcebergComponent, defs_yaml_contents=yaml.safe_load(TLS_YAML))
        with sandbox.load_component_and_build_defs(defs_path=defs_path) as (_loaded, defs):
            cassandra = (defs.resources or {})["cassandra"]
            assert isinstance(cassandra, CassandraResource)
            config = cassandra.process_config_and_initialize().connection_config()
            assert config.ssl_enabled and config.ssl_verify_hostname is False
            assert (config.ssl_ca_file, config.ssl_cert_file, config.ssl_key_file) == (
                "/etc/cb/ca.pem", "/etc/cb/client.crt", "/etc/cb/client.key",
            )  # fmt: skip
            assert config.ssl_key_password == "key-phrase-from-env" and config.password == "pw-from-env"
            assert "key-phrase-from-env" not in repr(cassandra) and "key-phrase-from-env" not in repr(config)


def _component_yaml(keyspace: str, contact_point: str, warehouse: str, **extra: object) -> dict[str, object]:
    attributes: dict[str, object] = {
        "cassandra": {"contact_points": [contact_point]},
        "catalog": {"warehouse": warehouse},
        "splits": 2,
        "tables": [{"keyspace": keyspace, "table": "items"}],
        **extra,
    }
    return {"type": "dagster_cassandra_bulk.CassandraIcebergComponent", "attributes": attributes}


def test_two_components_share_one_code_location(cassandra, session, keyspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue "Production-grade", item 9: components over other keyspaces (one cluster) and over
    "another cluster" (other connection settings, other catalog) load into one code location, and
    each asset materializes with its own component's resources, not a fixed ``cassandra`` key."""
    from tests.conftest import connection_config
    from tests.dagster.helpers import fill, iceberg_rows

    other = f"{keyspace}_b"
    session.execute(
        f"CREATE KEYSPACE {other} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    )
    try:
        fill(session, keyspace, 20)
        fill(session, other, 30)
        host = connection_config(cassandra).contact_points[0]
        wh, wh2 = tmp_path / "wh", tmp_path / "wh2"
        with create_defs_folder_sandbox() as sandbox:
            sandbox.scaffold_component(
                CassandraIcebergComponent, defs_yaml_contents=_component_yaml(keyspace, host, str(wh))
            )
            sandbox.scaffold_component(
                CassandraIcebergComponent, defs_yaml_contents=_component_yaml(other, host, str(wh))
            )
            sandbox.scaffold_component(
                CassandraIcebergComponent,
                defs_yaml_contents=_component_yaml(
                    other,
                    f"{host}, {host}",  # other settings: another cluster as far as Dagster can tell
                    str(wh2),
                    resource_key_prefix="east_",
                    translation={"key_prefix": "east", "group_name": "east_{{ data.keyspace }}"},
                ),
            )
            with sandbox.build_all_defs() as defs:
                Definitions.validate_loadable(defs)
                assert set(defs.resources or {}) == {"cassandra", "iceberg", "east_cassandra", "east_iceberg"}
                keys = [AssetKey([keyspace, "items"]), AssetKey([other, "items"]), AssetKey(["east", other, "items"])]
                assert set(defs.resolve_asset_graph().get_all_asset_keys()) == set(keys)
                east = defs.resolve_assets_def(keys[2])
                assert east.specs_by_key[keys[2]].group_name == f"east_{other}"
                assert not east.required_resource_keys - {"io_manager"}  # bound to its own resources
                job = defs.resolve_implicit_global_asset_job_def()
                for key in ("r0-of-2", "r1-of-2"):
                    assert job.execute_in_process(partition_key=key).success
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {other}")
    assert len(iceberg_rows(wh, f"{keyspace}.items")) == 20
    assert len(iceberg_rows(wh, f"{other}.items")) == 30
    assert len(iceberg_rows(wh2, f"{other}.items")) == 30
