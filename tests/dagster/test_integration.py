"""The adapter against a real Cassandra 5 node, through Dagster's in-process executor."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetSelection, DagsterInstance, MultiPartitionKey, RetryPolicy, materialize

from dagster_cassandra_bulk import (
    CassandraResource,
    CassandraTable,
    IcebergCatalogResource,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_checks,
)
from tests.conftest import connection_config

pytestmark = pytest.mark.integration

ROWS = 600


def _resources(target: Any, warehouse: Path) -> dict[str, Any]:
    config = connection_config(target)
    return {
        "cassandra": CassandraResource(
            contact_points=list(config.contact_points),
            port=config.port,
            local_dc=config.local_dc,
            username=config.username,
            password=config.password,
        ),
        "iceberg": IcebergCatalogResource(warehouse=str(warehouse)),
    }


def _fill(session: Any, keyspace: str, rows: int = ROWS) -> None:
    session.execute(f"CREATE TABLE {keyspace}.items (id int PRIMARY KEY, name text, price double)")
    insert = session.prepare(f"INSERT INTO {keyspace}.items (id, name, price) VALUES (?, ?, ?)")
    for i in range(rows):
        session.execute(insert, (i, f"item-{i}", i * 1.5))


def _iceberg_rows(warehouse: Path, identifier: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        IcebergCatalogResource(warehouse=str(warehouse)).load_table(identifier).scan().to_arrow().to_pylist()
    )
    return rows


def test_materialize_all_ranges_then_rematerialize_one(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    _fill(session, keyspace)
    table = CassandraTable(keyspace, "items", splits=8)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    resources = _resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()

    # (a) every range partition, one run each (the default backfill shape)
    assert asset.partitions_def is not None
    keys = asset.partitions_def.get_partition_keys()
    assert len(keys) == 8
    total = 0
    for key in keys:
        result = materialize([asset], resources=resources, partition_key=key, instance=instance)
        assert result.success
        (mat,) = result.asset_materializations_for_node(asset.node_def.name)
        md = mat.metadata
        total += md["dagster/row_count"].value
        assert md["cassandra_bulk/ranges"].value == key
        assert int(md["cassandra_bulk/token_start"].value) < int(md["cassandra_bulk/token_end"].value)
        assert md["cassandra_bulk/snapshot_id"].value
        assert {c.name for c in md["dagster/column_schema"].value.columns} == {"id", "name", "price"}
    assert total == ROWS
    rows = _iceberg_rows(tmp_path / "wh", f"{keyspace}.items")
    assert len(rows) == ROWS
    assert sorted(r["id"] for r in rows) == list(range(ROWS))

    # (c) the checks pass on a complete export
    checked = materialize(
        [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
    )
    evaluations = {e.check_name: e.passed for e in checked.get_asset_check_evaluations()}
    assert evaluations == {"row_counts_match": True, "schema_matches": True}

    # (b) change rows of one range in Cassandra, re-materialize that one partition
    key = _key_of(7, keys)
    gone = next(i for i in range(8, ROWS) if _key_of(i, keys) == key)
    new = next(i for i in range(ROWS, ROWS + 1000) if _key_of(i, keys) == key)
    session.execute(f"UPDATE {keyspace}.items SET name = 'changed' WHERE id = 7")
    session.execute(f"DELETE FROM {keyspace}.items WHERE id = {gone}")
    session.execute(f"INSERT INTO {keyspace}.items (id, name, price) VALUES ({new}, 'new', 0)")
    assert materialize([asset], resources=resources, partition_key=key, instance=instance).success
    rows = _iceberg_rows(tmp_path / "wh", f"{keyspace}.items")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == ROWS
    assert gone not in ids and new in ids
    assert next(r["name"] for r in rows if r["id"] == 7) == "changed"
    checked = materialize(
        [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
    )
    assert all(e.passed for e in checked.get_asset_check_evaluations())


def _key_of(pk: int, keys: list[str]) -> str:
    """The range partition holding an int partition key (Murmur3 of its 4-byte encoding)."""
    from cassandra.metadata import Murmur3Token
    from cassandra.protocol import int32_pack

    token = int(Murmur3Token.from_key(int32_pack(pk)).value)
    (key,) = [k for k in keys if _contains(k, token)]
    return key


def _contains(range_id: str, token: int) -> bool:
    from cassandra_bulk_core.ring import range_by_id

    return token in range_by_id(range_id).tokens


def test_check_fails_on_tampered_iceberg_and_secrets_stay_out_of_logs(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(session, keyspace, rows=100)
    table = CassandraTable(keyspace, "items", splits=4)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    secret = f"pw-{uuid.uuid4().hex}"
    resources = _resources(cassandra, tmp_path / "wh")
    # a password the node ignores when auth is off; if auth is on, keep the real one and look for it instead
    if resources["cassandra"].password is None:
        resources["cassandra"] = resources["cassandra"].model_copy(update={"password": secret})
    else:
        secret = resources["cassandra"].password
    instance = DagsterInstance.ephemeral()
    assert asset.partitions_def is not None
    with caplog.at_level(logging.DEBUG):
        for key in asset.partitions_def.get_partition_keys():
            assert materialize([asset], resources=resources, partition_key=key, instance=instance).success
    run_ids = instance.get_run_ids()
    assert len(run_ids) == 4
    for run_id in run_ids:
        for record in instance.all_logs(run_id):
            assert secret not in str(record)
    assert secret not in caplog.text
    event = instance.get_latest_materialization_event(asset.key)
    assert event is not None and secret not in str(event)

    # tamper: delete one range's rows from Iceberg behind the exporter's back
    ice = IcebergCatalogResource(warehouse=str(tmp_path / "wh")).load_table(f"{keyspace}.items")
    ice.delete("_cb_range = 'r1-of-4'")
    checked = materialize(
        [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
    )
    evaluations = {e.check_name: e for e in checked.get_asset_check_evaluations()}
    assert not evaluations["row_counts_match"].passed
    assert evaluations["schema_matches"].passed


def test_daily_mode_files_rows_under_the_partition_date(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    _fill(session, keyspace, rows=50)
    table = CassandraTable(keyspace, "items", splits=2, mode="daily", start_date="2026-11-01")
    asset = build_cassandra_iceberg_asset(table)
    resources = _resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    for day in ("2026-11-01", "2026-11-02"):
        for range_id in ("r0-of-2", "r1-of-2"):
            key = MultiPartitionKey({"date": day, "range": range_id})
            assert materialize([asset], resources=resources, partition_key=key, instance=instance).success
    # re-running one day's range replaces only that slice
    key = MultiPartitionKey({"date": "2026-11-02", "range": "r1-of-2"})
    assert materialize([asset], resources=resources, partition_key=key, instance=instance).success
    rows = _iceberg_rows(tmp_path / "wh", f"{keyspace}.items")
    by_day: dict[str, int] = {}
    for r in rows:
        by_day[str(r["_cb_export_date"])] = by_day.get(str(r["_cb_export_date"]), 0) + 1
    assert by_day == {"2026-11-01": 50, "2026-11-02": 50}
    checks = build_cassandra_iceberg_checks(table)
    checked = materialize(
        [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
    )
    assert all(e.passed for e in checked.get_asset_check_evaluations())


def test_failed_first_attempt_is_retried_without_duplicates(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault hits after the range was committed: the retry must replace, not append."""
    import dagster_cassandra_bulk.asset_decorator as decorator

    _fill(session, keyspace, rows=200)
    real = decorator.snapshot_of
    calls = {"n": 0}

    def flaky(table: Any, operation_id: str) -> int | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected fault after commit")
        return real(table, operation_id)

    monkeypatch.setattr(decorator, "snapshot_of", flaky)
    table = CassandraTable(keyspace, "items", splits=1)
    asset = build_cassandra_iceberg_asset(table, retry_policy=RetryPolicy(max_retries=2))
    result = materialize(
        [asset], resources=_resources(cassandra, tmp_path / "wh"), partition_key="r0-of-1", raise_on_error=False
    )
    assert result.success
    assert calls["n"] == 2
    assert [e.event_type_value for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    ids = [r["id"] for r in _iceberg_rows(tmp_path / "wh", f"{keyspace}.items")]
    assert len(ids) == len(set(ids)) == 200


def test_cli_backfill_over_a_partition_range(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    """`dagster asset materialize --partition-range` (single-run policy) exports every range once."""
    import os
    import subprocess
    import sys

    _fill(session, keyspace, rows=300)
    config = connection_config(cassandra)
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CB_TEST_KEYSPACE": keyspace,
        "CB_TEST_CONTACT_POINTS": ",".join(config.contact_points),
        "CB_TEST_PORT": str(config.port),
        "CB_TEST_LOCAL_DC": config.local_dc or "",
        "CB_TEST_USERNAME": config.username or "",
        "CB_TEST_PASSWORD": config.password or "",
        "CB_TEST_WAREHOUSE": str(tmp_path / "wh"),
    }
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-f",
            str(Path(__file__).with_name("cli_defs.py")),
            "--select",
            f"{keyspace}/items",
            "--partition-range",
            "r0-of-8...r7-of-8",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=Path(__file__).parents[2],
    )
    assert res.returncode == 0, res.stderr[-3000:]
    ids = [r["id"] for r in _iceberg_rows(tmp_path / "wh", f"{keyspace}.items")]
    assert len(ids) == len(set(ids)) == 300
    counts = IcebergCatalogResource(warehouse=str(tmp_path / "wh")).load_table(f"{keyspace}.items")
    from cassandra_bulk_core.iceberg import iceberg_range_counts

    assert sorted(iceberg_range_counts(counts)) == [f"r{i}-of-8" for i in range(8)]


def test_schema_drift_check_warns_until_the_next_export(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    _fill(session, keyspace, rows=20)
    table = CassandraTable(keyspace, "items", splits=1)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    resources = _resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    assert materialize([asset], resources=resources, partition_key="r0-of-1", instance=instance).success
    session.execute(f"ALTER TABLE {keyspace}.items ADD colour text")

    def schema_check() -> Any:
        checked = materialize(
            [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
        )
        return {e.check_name: e for e in checked.get_asset_check_evaluations()}["schema_matches"]

    drift = schema_check()
    assert not drift.passed
    assert drift.severity.value == "WARN"
    assert drift.metadata["missing_in_iceberg"].value == "colour"
    assert materialize([asset], resources=resources, partition_key="r0-of-1", instance=instance).success
    assert schema_check().passed
