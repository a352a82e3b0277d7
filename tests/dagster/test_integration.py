"""The adapter against a real Cassandra 5 node, through Dagster's in-process executor."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetSelection,
    DagsterInstance,
    MultiPartitionKey,
    RetryPolicy,
    instance_for_test,
    materialize,
)

from cassandra_bulk_core.iceberg import iceberg_range_counts
from cassandra_bulk_core.ring import range_by_id
from dagster_cassandra_bulk import (
    CassandraTable,
    backfill_policy_for,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_checks,
)
from tests.conftest import connection_config
from tests.dagster.helpers import (
    assert_secret_nowhere,
    cassandra_range_counts,
    fill,
    iceberg_rows,
    iceberg_table,
    resources,
)

pytestmark = pytest.mark.integration

ROWS = 600


def _check_results(asset: Any, checks: list[Any], res: dict[str, Any], instance: DagsterInstance) -> dict[str, Any]:
    checked = materialize(
        [asset, *checks], resources=res, instance=instance, selection=AssetSelection.all_asset_checks()
    )
    return {e.check_name: e for e in checked.get_asset_check_evaluations()}


def test_materialize_all_ranges_then_rematerialize_one(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    fill(session, keyspace, ROWS)
    table = CassandraTable(keyspace, "items", splits=8)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    identifier = f"{keyspace}.items"

    # (a) every range partition, one run each (the default backfill shape), with full metadata
    assert asset.partitions_def is not None
    keys = asset.partitions_def.get_partition_keys()
    assert len(keys) == 8
    total = 0
    for key in keys:
        result = materialize([asset], resources=res, partition_key=key, instance=instance)
        assert result.success
        (mat,) = result.asset_materializations_for_node(asset.node_def.name)
        md = {k: v.value for k, v in mat.metadata.items()}
        total += md["dagster/row_count"]
        assert md["cassandra_bulk/ranges"] == key
        assert md["cassandra_bulk/rows_by_range"] == {key: md["dagster/row_count"]}
        tokens = range_by_id(key).tokens
        assert md["cassandra_bulk/token_start"] == str(tokens.start)
        assert md["cassandra_bulk/token_end"] == str(tokens.end)
        assert md["cassandra_bulk/bytes"] > 0 and md["cassandra_bulk/files"] >= 1
        assert md["cassandra_bulk/duration_s"] > 0
        snapshot = iceberg_table(tmp_path / "wh", identifier).snapshot_by_id(int(md["cassandra_bulk/snapshot_id"]))
        assert snapshot is not None
        assert snapshot.summary["cassandra-bulk.operation-id"] == md["cassandra_bulk/operation_id"]
        assert snapshot.summary["cassandra-bulk.ranges"] == key
        schema = md["dagster/column_schema"]
        assert {(c.name, c.type, c.constraints.nullable) for c in schema.columns} == {
            ("id", "int", False),
            ("name", "text", True),
            ("price", "double", True),
        }
        assert md["dagster/table_name"] == identifier
    assert total == ROWS
    rows = iceberg_rows(tmp_path / "wh", identifier)
    assert sorted(r["id"] for r in rows) == list(range(ROWS))
    assert iceberg_range_counts(iceberg_table(tmp_path / "wh", identifier)) == cassandra_range_counts(
        cassandra, keyspace, "items", 8
    )

    # (c) the checks pass on a complete export
    evaluations = {n: e.passed for n, e in _check_results(asset, checks, res, instance).items()}
    assert evaluations == {"row_counts_match": True, "schema_matches": True}

    # (b) change rows of one range in Cassandra, re-materialize that one partition
    key = _key_of(7, keys)
    gone = next(i for i in range(8, ROWS) if _key_of(i, keys) == key)
    new = next(i for i in range(ROWS, ROWS + 1000) if _key_of(i, keys) == key)
    session.execute(f"UPDATE {keyspace}.items SET name = 'changed' WHERE id = 7")
    session.execute(f"DELETE FROM {keyspace}.items WHERE id = {gone}")
    session.execute(f"INSERT INTO {keyspace}.items (id, name, price) VALUES ({new}, 'new', 0)")
    assert materialize([asset], resources=res, partition_key=key, instance=instance).success
    rows = iceberg_rows(tmp_path / "wh", identifier)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == ROWS
    assert gone not in ids and new in ids
    assert next(r["name"] for r in rows if r["id"] == 7) == "changed"
    assert all(e.passed for e in _check_results(asset, checks, res, instance).values())


def _key_of(pk: int, keys: list[str]) -> str:
    """The range partition holding an int partition key (Murmur3 of its 4-byte encoding)."""
    from cassandra.metadata import Murmur3Token
    from cassandra.protocol import int32_pack

    token = int(Murmur3Token.from_key(int32_pack(pk)).value)
    (key,) = [k for k in keys if token in range_by_id(k).tokens]
    return key


def test_one_run_holding_several_ranges_exports_each(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    """A batch run (``ranges_per_run=3`` → ``BackfillPolicy.multi_run(3)``) exports and commits each range."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    fill(session, keyspace, 300)
    table = CassandraTable(keyspace, "items", splits=8)
    asset = build_cassandra_iceberg_asset(table, backfill_policy=backfill_policy_for(3))
    assert asset.backfill_policy is not None and asset.backfill_policy.max_partitions_per_run == 3
    tags = {ASSET_PARTITION_RANGE_START_TAG: "r2-of-8", ASSET_PARTITION_RANGE_END_TAG: "r4-of-8"}
    result = materialize([asset], resources=resources(cassandra, tmp_path / "wh"), tags=tags)
    assert result.success
    selected = ["r2-of-8", "r3-of-8", "r4-of-8"]
    expected = {r: n for r, n in cassandra_range_counts(cassandra, keyspace, "items", 8).items() if r in selected}
    # one materialization per partition, each with its own range's figures, plus what the run shares
    materializations = result.asset_materializations_for_node(asset.node_def.name)
    assert sorted(m.partition for m in materializations) == selected
    for mat in materializations:
        md = {k: v.value for k, v in mat.metadata.items()}
        assert md["dagster/row_count"] == expected[mat.partition]
        assert md["cassandra_bulk/token_start"] == str(range_by_id(mat.partition).tokens.start)
        assert md["cassandra_bulk/token_end"] == str(range_by_id(mat.partition).tokens.end)
        assert md["cassandra_bulk/files"] >= 1
        assert md["cassandra_bulk/rows_by_range"] == expected
        assert md["cassandra_bulk/ranges"] == ", ".join(selected)
    ice = iceberg_table(tmp_path / "wh", f"{keyspace}.items")
    assert iceberg_range_counts(ice) == expected
    committed = [s.summary["cassandra-bulk.ranges"] for s in ice.snapshots()]
    assert sorted(committed) == selected  # one exactly-once commit per range, not one for the batch


@pytest.mark.parametrize("tamper", ["delete_range_rows", "append_duplicates"])
def test_row_count_check_fails_on_a_tampered_iceberg_table(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, tamper: str
) -> None:
    fill(session, keyspace, 100)
    table = CassandraTable(keyspace, "items", splits=4)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    assert asset.partitions_def is not None
    for key in asset.partitions_def.get_partition_keys():
        assert materialize([asset], resources=res, partition_key=key, instance=instance).success
    assert _check_results(asset, checks, res, instance)["row_counts_match"].passed

    ice = iceberg_table(tmp_path / "wh", f"{keyspace}.items")
    if tamper == "delete_range_rows":  # someone deletes a range's rows behind the exporter's back
        ice.delete("_cb_range = 'r1-of-4'")
    else:  # or a writer appends a second copy of a range's rows
        ice.append(ice.scan(row_filter="_cb_range = 'r1-of-4'").to_arrow())
    evaluations = _check_results(asset, checks, res, instance)
    failed = evaluations["row_counts_match"]
    assert not failed.passed
    assert failed.metadata["mismatched_ranges"].value == 1
    assert list(failed.metadata["mismatches"].value) == ["r1-of-4"]
    assert evaluations["schema_matches"].passed

    # re-materializing the range repairs it: the commit replaces the range, duplicates included
    assert materialize([asset], resources=res, partition_key="r1-of-4", instance=instance).success
    assert _check_results(asset, checks, res, instance)["row_counts_match"].passed


def test_password_from_envvar_never_reaches_events_or_logs(
    cassandra: Any,
    session: Any,
    keyspace: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Materializations, checks, retries and failures: the secret is in no event, file or log line."""
    if connection_config(cassandra).password:
        pytest.skip("the node requires real credentials; this test sets its own password")
    fill(session, keyspace, 50)
    secret = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv("CB_SECRET_PASSWORD", secret)
    table = CassandraTable(keyspace, "items", splits=2)
    asset = build_cassandra_iceberg_asset(table, retry_policy=RetryPolicy(max_retries=1))
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh", password_env="CB_SECRET_PASSWORD")
    with instance_for_test() as instance, caplog.at_level(logging.DEBUG):
        for key in ("r0-of-2", "r1-of-2"):
            assert materialize([asset], resources=res, partition_key=key, instance=instance).success
        assert all(e.passed for e in _check_results(asset, checks, res, instance).values())
        # a failing run logs an error (unknown table): still no secret in it
        broken = build_cassandra_iceberg_asset(CassandraTable(keyspace, "nope", splits=2), retry_policy=None)
        failed = materialize([broken], resources=res, partition_key="r0-of-2", instance=instance, raise_on_error=False)
        assert not failed.success
        event = instance.get_latest_materialization_event(asset.key)
        assert event is not None and secret not in str(event)
        assert assert_secret_nowhere(secret, instance, Path(instance.root_directory)) > 20
    assert caplog.text and secret not in caplog.text


def test_daily_mode_files_rows_under_the_partition_date(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    fill(session, keyspace, 50)
    table = CassandraTable(keyspace, "items", splits=2, mode="daily", start_date="2026-11-01")
    asset = build_cassandra_iceberg_asset(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    for day in ("2026-11-01", "2026-11-02"):
        for range_id in ("r0-of-2", "r1-of-2"):
            key = MultiPartitionKey({"date": day, "range": range_id})
            assert materialize([asset], resources=res, partition_key=key, instance=instance).success
    # re-running one day's range replaces only that slice
    key = MultiPartitionKey({"date": "2026-11-02", "range": "r1-of-2"})
    assert materialize([asset], resources=res, partition_key=key, instance=instance).success
    rows = iceberg_rows(tmp_path / "wh", f"{keyspace}.items")
    by_day: dict[str, int] = {}
    for r in rows:
        by_day[str(r["_cb_export_date"])] = by_day.get(str(r["_cb_export_date"]), 0) + 1
    assert by_day == {"2026-11-01": 50, "2026-11-02": 50}
    checks = build_cassandra_iceberg_checks(table)
    assert all(e.passed for e in _check_results(asset, checks, res, instance).values())


@pytest.mark.parametrize("fault", ["before_commit", "after_commit"])
def test_failed_first_attempt_is_retried_without_duplicates(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """The first attempt fails once (files written but not committed, or committed); the retry replaces."""
    import cassandra_bulk_core.iceberg.export as engine_iceberg  # where export_to_iceberg looks commit_files up
    import dagster_cassandra_bulk.asset_decorator as decorator

    fill(session, keyspace, 200)
    calls = {"n": 0}
    module, name = (engine_iceberg, "commit_files") if fault == "before_commit" else (decorator, "snapshot_of")
    real = getattr(module, name)

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError(f"injected fault ({fault})")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    table = CassandraTable(keyspace, "items", splits=1)
    asset = build_cassandra_iceberg_asset(table, retry_policy=RetryPolicy(max_retries=2))
    result = materialize(
        [asset], resources=resources(cassandra, tmp_path / "wh"), partition_key="r0-of-1", raise_on_error=False
    )
    assert result.success
    assert calls["n"] == 2
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1 and "injected fault" in str(retries[0].event_specific_data)
    ids = [r["id"] for r in iceberg_rows(tmp_path / "wh", f"{keyspace}.items")]
    assert len(ids) == len(set(ids)) == 200
    operations = {
        s.summary["cassandra-bulk.operation-id"]
        for s in iceberg_table(tmp_path / "wh", f"{keyspace}.items").snapshots()
    }
    assert len(operations) == (1 if fault == "before_commit" else 2)  # a failed commit left no snapshot


def test_schema_drift_check(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    """New column: a warning until the next export evolves the table. Changed type: an error."""
    fill(session, keyspace, 20)
    table = CassandraTable(keyspace, "items", splits=1)
    asset = build_cassandra_iceberg_asset(table)
    checks = build_cassandra_iceberg_checks(table)
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    assert materialize([asset], resources=res, partition_key="r0-of-1", instance=instance).success
    assert _check_results(asset, checks, res, instance)["schema_matches"].passed

    session.execute(f"ALTER TABLE {keyspace}.items ADD colour text")
    drift = _check_results(asset, checks, res, instance)["schema_matches"]
    assert not drift.passed
    assert drift.severity.value == "WARN"
    assert drift.metadata["missing_in_iceberg"].value == "colour"
    assert materialize([asset], resources=res, partition_key="r0-of-1", instance=instance).success
    assert _check_results(asset, checks, res, instance)["schema_matches"].passed

    # Cassandra changes a type only by dropping a column and adding it back as a compatible type
    session.execute(f"ALTER TABLE {keyspace}.items DROP name")
    session.execute(f"ALTER TABLE {keyspace}.items ADD name blob")
    changed = _check_results(asset, checks, res, instance)["schema_matches"]
    assert not changed.passed
    assert changed.severity.value == "ERROR"
    assert changed.metadata["type_changed"].value == "name: text -> blob"
    assert iceberg_table(tmp_path / "wh", f"{keyspace}.items").schema().find_field("name").field_type == (
        _iceberg_string()
    )


def _iceberg_string() -> Any:
    from pyiceberg.types import StringType

    return StringType()
