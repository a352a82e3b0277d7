"""Adapter unit tests: no Cassandra needed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from dagster import AssetKey, Definitions, TableColumn, TableSchema, build_schedule_context

from dagster_cassandra_bulk import (
    DEFAULT_RETRY_POLICY,
    CassandraResource,
    CassandraTable,
    DagsterCassandraBulkTranslator,
    IcebergCatalogResource,
    backfill_policy_for,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_checks,
    build_nightly_schedule,
    daily_token_range_partitions,
    token_range_partitions,
)

FORBIDDEN = ("...", "|", ",", "[", "]", " ", "/")


@pytest.mark.parametrize("splits", [1, 8, 16, 100, 1024])
def test_range_keys_are_safe_stable_and_unique(splits: int) -> None:
    keys = token_range_partitions(splits).get_partition_keys()
    assert keys == token_range_partitions(splits).get_partition_keys()
    assert len(keys) == len(set(keys)) == splits
    assert keys == sorted(keys)
    assert not [k for k in keys if any(bad in k for bad in FORBIDDEN)]


def test_daily_partitions_are_date_times_range() -> None:
    pd = daily_token_range_partitions(4, "2026-11-01")
    keys = pd.get_partition_keys(current_time=dt.datetime(2026, 11, 3, 1, tzinfo=dt.timezone.utc))
    assert keys[:2] == ["2026-11-01|r0-of-4", "2026-11-01|r1-of-4"]
    assert len(keys) == 2 * 4
    assert keys[0].keys_by_dimension == {"date": "2026-11-01", "range": "r0-of-4"}


@pytest.mark.parametrize(
    ("table", "key", "group", "name"),
    [
        (CassandraTable("shop", "orders"), ["shop", "orders"], "shop", "shop.orders"),
        (CassandraTable("shop", "orders", iceberg_table="lake.o", group_name="g"), ["shop", "orders"], "g", "lake.o"),
    ],
)
def test_translator_defaults(table: CassandraTable, key: list[str], group: str, name: str) -> None:
    spec = DagsterCassandraBulkTranslator().get_asset_spec(table)
    assert spec.key == AssetKey(key)
    assert spec.group_name == group
    assert spec.kinds == {"cassandra", "iceberg"}
    assert spec.metadata["dagster/table_name"] == name
    assert spec.metadata["cassandra_bulk/splits"] == 16
    assert "orders" in (spec.description or "")


def test_translator_column_schema_and_override() -> None:
    schema = TableSchema(columns=[TableColumn("id", "uuid")])

    class Prefixed(DagsterCassandraBulkTranslator):
        def get_asset_spec(self, table: CassandraTable):  # type: ignore[no-untyped-def]
            spec = super().get_asset_spec(table)
            return spec.replace_attributes(key=spec.key.with_prefix("lake"))

    table = CassandraTable("shop", "orders", splits=8, column_schema=schema)
    asset = build_cassandra_iceberg_asset(table, translator=Prefixed())
    assert asset.key == AssetKey(["lake", "shop", "orders"])
    assert asset.specs_by_key[asset.key].metadata["dagster/column_schema"] == schema
    assert asset.partitions_def is not None
    assert asset.partitions_def.get_partition_keys()[3] == "r3-of-8"
    checks = build_cassandra_iceberg_checks(table, asset_key=asset.key)
    assert {c.check_key.name for c in checks} == {"row_counts_match", "schema_matches"}


def test_table_validation() -> None:
    with pytest.raises(ValueError, match="start_date"):
        CassandraTable("ks", "t", mode="daily")
    with pytest.raises(ValueError, match="mode"):
        CassandraTable("ks", "t", mode="append")


def test_resources_redact_secrets() -> None:
    res = CassandraResource(
        contact_points=["10.0.0.1,10.0.0.2"], username="etl", password="hunter2-secret",
        ssl_enabled=True, ssl_cert_file="c.pem", ssl_key_file="k.pem", ssl_key_password="key-phrase-secret",
    )  # fmt: skip
    config = res.connection_config()
    assert config.contact_points == ("10.0.0.1", "10.0.0.2")
    assert config.password == "hunter2-secret"
    assert (config.ssl_cert_file, config.ssl_key_file) == ("c.pem", "k.pem")
    assert config.ssl_key_password == "key-phrase-secret"
    for text in (repr(res), str(res), repr(config), str(res.safe_dict())):
        assert "hunter2-secret" not in text and "key-phrase-secret" not in text
    assert res.safe_dict()["password"] == "***" and res.safe_dict()["ssl_key_password"] == "***"
    ice = IcebergCatalogResource(properties={"type": "rest", "credential": "tok-secret"})
    assert "tok-secret" not in repr(ice) and "tok-secret" not in str(ice)
    assert ice.iceberg_options(mode="daily").catalog_properties["credential"] == "tok-secret"


def test_every_engine_connection_setting_reaches_the_resource_and_the_component() -> None:
    """The engine declares its connection settings once (``connection_fields.py``). The resource
    has a field of each name, and a non-default value of each arrives in ``ConnectionConfig``; the
    component's ``cassandra:`` block has each too (a secret only as ``<name>_env_var``)."""
    from cassandra_bulk_core.connection_fields import CONNECTION_FIELDS
    from dagster_cassandra_bulk.component import CassandraConnectionModel

    non_default = {
        "contact_points": ["10.9.9.9"], "port": 19042, "username": "u", "password": "p", "local_dc": "dc9",
        "consistency": "QUORUM", "request_timeout": 7.0, "connect_timeout": 3.0, "ssl_enabled": True,
        "ssl_ca_file": "ca.pem", "ssl_cert_file": "c.pem", "ssl_key_file": "k.pem", "ssl_key_password": "kp",
        "ssl_verify_hostname": False, "secure_connect_bundle": "b.zip", "protocol_version": 5,
    }  # fmt: skip
    names = [f.name for f in CONNECTION_FIELDS]
    assert set(names) == set(non_default), "a new connection setting: add it to this test's values"
    config = CassandraResource(**non_default).connection_config()
    for name in names:
        expected = tuple(non_default[name]) if name == "contact_points" else non_default[name]
        assert getattr(config, name) == expected, name
    component = set(CassandraConnectionModel.model_fields)
    for f in CONNECTION_FIELDS:
        assert (f"{f.name}_env_var" if f.secret else f.name) in component, f.name


def test_nightly_schedule_requests_every_range_of_yesterday() -> None:
    asset = build_cassandra_iceberg_asset(CassandraTable("ks", "d", splits=4, mode="daily", start_date="2026-11-01"))
    schedule = build_nightly_schedule(asset)
    defs = Definitions(
        assets=[asset],
        schedules=[schedule],
        resources={"cassandra": CassandraResource(), "iceberg": IcebergCatalogResource()},
    )
    ctx = build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 24, 2, tzinfo=dt.timezone.utc),
        repository_def=defs.get_repository_def(),
    )
    requests = list(schedule.evaluate_tick(ctx).run_requests or [])
    assert [r.partition_key for r in requests] == [f"2026-11-23|r{i}-of-4" for i in range(4)]


def test_import_is_cheap() -> None:
    """Loading definitions must not pull in the driver or pyiceberg (pyarrow comes with the engine)."""
    code = (
        "import sys, dagster_cassandra_bulk;"
        "bad=[m for m in ('pyiceberg','cassandra.cluster') if m in sys.modules];"
        "print(','.join(bad))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_import_time_leaves_out_pyarrow_and_the_engine_s_heavy_modules() -> None:
    """Like dagster-sling's import perf test: ``python -X importtime`` lists every module the import
    loaded; none of pyarrow, pyiceberg, the driver or the engine's scan/export/load/iceberg modules
    may be among them (they load when an asset runs)."""
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dagster_cassandra_bulk"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "dagster_cassandra_bulk" in loaded
    heavy = ("pyarrow", "pyiceberg", "cassandra.", "cassandra_bulk_core.")
    allowed = {"cassandra_bulk_core._version", "cassandra_bulk_core.events", "cassandra_bulk_core.ring"}
    bad = sorted(m for m in loaded if (m == "cassandra" or m.startswith(heavy)) and m not in allowed)
    assert bad == []


def test_example_project_loads() -> None:
    from dagster import Definitions

    from examples.dagster.definitions import defs

    Definitions.validate_loadable(defs)
    keys = {a.key.to_user_string() for a in defs.assets or []}  # type: ignore[union-attr]
    assert keys == {"demo/events", "demo/events_daily", "cassandra/demo/events_restored"}
    restore = defs.resolve_assets_def(AssetKey(["cassandra", "demo", "events_restored"]))
    assert [d.asset_key for d in restore.specs_by_key[restore.key].deps] == [AssetKey(["demo", "events"])]


@pytest.mark.parametrize(
    ("ranges_per_run", "policy_type", "per_run"),
    [(None, None, None), (1, None, None), (4, "MULTI_RUN", 4), ("all", "SINGLE_RUN", None)],
)
def test_backfill_policy_for(ranges_per_run: int | str | None, policy_type: str | None, per_run: int | None) -> None:
    policy = backfill_policy_for(ranges_per_run)
    if policy_type is None:
        assert policy is None  # Dagster's default: one run per partition, i.e. per token range
        return
    assert policy is not None
    assert policy.policy_type.value == policy_type
    assert policy.max_partitions_per_run == per_run


@pytest.mark.parametrize("bad", [0, -2, "some"])
def test_backfill_policy_for_refuses_nonsense(bad: int | str) -> None:
    with pytest.raises(ValueError, match="ranges_per_run"):
        backfill_policy_for(bad)


def test_asset_key_override_keeps_two_assets_over_one_table_apart() -> None:
    mirror = build_cassandra_iceberg_asset(CassandraTable("demo", "events", splits=4))
    daily = build_cassandra_iceberg_asset(
        CassandraTable("demo", "events", splits=4, mode="daily", start_date="2026-11-01", asset_key=("demo", "daily"))
    )
    assert (mirror.key, daily.key) == (AssetKey(["demo", "events"]), AssetKey(["demo", "daily"]))
    assert mirror.node_def.retry_policy == DEFAULT_RETRY_POLICY and DEFAULT_RETRY_POLICY.max_retries == 3


def test_load_assets_follow_the_translator_and_the_source_partitions() -> None:
    from dagster import AssetSpec

    from dagster_cassandra_bulk import IcebergCassandraTable, build_iceberg_cassandra_asset

    class Lake(DagsterCassandraBulkTranslator):
        def get_asset_spec(self, table: CassandraTable) -> AssetSpec:
            return super().get_asset_spec(table).replace_attributes(key=["lake", table.table])

    source = CassandraTable("shop", "orders", splits=8)
    export = build_cassandra_iceberg_asset(source, translator=Lake())
    load = build_iceberg_cassandra_asset(IcebergCassandraTable("restore", "orders", source=source), translator=Lake())
    spec = load.specs_by_key[load.key]
    assert load.key == AssetKey(["cassandra", "restore", "orders"])
    assert [d.asset_key for d in spec.deps] == [export.key] == [AssetKey(["lake", "orders"])]
    assert load.partitions_def == export.partitions_def
    assert set(spec.kinds) == {"iceberg", "cassandra"}
    assert load.required_resource_keys >= {"cassandra", "iceberg"}
    assert load.node_def.retry_policy == DEFAULT_RETRY_POLICY
    resources = {"cassandra": CassandraResource(), "iceberg": IcebergCatalogResource()}
    Definitions.validate_loadable(Definitions(assets=[export, load], resources=resources))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a source"),
        ({"path": "out/", "iceberg_table": "a.b"}, "not both"),
        ({"iceberg_table": "a.b", "format": "csv"}, "files"),
        ({"path": "out/", "format": "avro"}, "format must be"),
        ({"path": "out/", "write_timestamp": "snapshot"}, "no snapshot"),
        ({"iceberg_table": "a.b", "write_timestamp": "now"}, "write_timestamp must be"),
        ({"iceberg_table": "a.b", "export_date": "2026-11-01"}, "daily"),
        ({"iceberg_table": "a.b", "splits": 0}, "splits"),
    ],
)
def test_load_table_rejects_inconsistent_settings(kwargs: dict[str, object], message: str) -> None:
    from dagster_cassandra_bulk import IcebergCassandraTable

    with pytest.raises(ValueError, match=message):
        IcebergCassandraTable("ks", "t", **kwargs)  # type: ignore[arg-type]


def test_terminal_engine_errors_become_failures_without_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ConfigError can never pass on a retry: the asset raises Failure(allow_retries=False), so the
    retry policy does not repeat it for each partition; a transient engine error is left to it."""
    from dagster import Failure

    from cassandra_bulk_core.errors import ConfigError
    from cassandra_bulk_core.scan import ScanFailed
    from dagster_cassandra_bulk import asset_decorator

    table = CassandraTable("ks", "t", splits=4)

    def boom(exc: Exception) -> None:
        def body(*args: object, **kwargs: object) -> None:
            raise exc

        monkeypatch.setattr(asset_decorator, "_export_partitions", body)

    boom(ConfigError("Iceberg table ks.t was not created in daily mode"))
    with pytest.raises(Failure) as failure:
        asset_decorator.export_partitions(None, table, None, None)  # type: ignore[arg-type]
    assert failure.value.allow_retries is False and "daily mode" in str(failure.value.description)
    boom(ScanFailed("reading ks.t failed after 5 attempt(s)"))
    with pytest.raises(ScanFailed):
        asset_decorator.export_partitions(None, table, None, None)  # type: ignore[arg-type]
