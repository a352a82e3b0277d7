"""The reverse direction against a real Cassandra 5 node: Iceberg (or files) → Cassandra, per range."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    RetryPolicy,
    instance_for_test,
    materialize,
)

from dagster_cassandra_bulk import (
    CassandraTable,
    IcebergCassandraTable,
    backfill_policy_for,
    build_cassandra_iceberg_asset,
    build_iceberg_cassandra_asset,
)
from tests.alltypes import COLUMNS, create_and_fill, plain, random_rows
from tests.conftest import connection_config
from tests.dagster.helpers import assert_secret_nowhere, cassandra_range_counts, fill, iceberg_table, resources

pytestmark = pytest.mark.integration

SPLITS = 8


@pytest.fixture
def target_keyspace(session: Any, keyspace: str) -> Any:
    name = f"{keyspace}_dst"
    session.execute(f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    try:
        yield name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")


@pytest.fixture
def reader(cassandra: Any) -> Any:
    """A session without the UDT classes ``create_and_fill`` registers (so UDTs read as plain tuples)."""
    cluster, sess = connection_config(cassandra).connect()
    yield sess
    cluster.shutdown()


def _rows(session: Any, ks: str, table: str, columns: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every row by primary key, values made plain by the tests' own converter (not the engine's)."""
    meta = session.cluster.metadata.keyspaces[ks].tables[table]
    keys = [c.name for c in meta.primary_key]
    out = {}
    for row in session.execute(f"SELECT {', '.join(columns)} FROM {ks}.{table}"):
        d = row._asdict()
        out[tuple(plain(d[k]) for k in keys)] = {c: plain(d[c]) for c in d}
    return out


def _md(mat: Any) -> dict[str, Any]:
    return {k: v.value for k, v in mat.metadata.items()}


def test_restore_every_range_of_all_types_then_rematerialize_one(
    cassandra: Any, session: Any, reader: Any, keyspace: str, target_keyspace: str, tmp_path: Path
) -> None:
    """Every CQL type, through the export asset and back: the target equals the source, value by value."""
    create_and_fill(session, keyspace, random_rows(400, seed=5))
    create_and_fill(session, target_keyspace, [])  # same schema (and UDT), no rows
    source = CassandraTable(keyspace, "all_types", splits=SPLITS)
    export = build_cassandra_iceberg_asset(source)
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "all_types", source=source), log_dir=str(tmp_path / "logs")
    )
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()

    # the definition: the export's partitions, the export as upstream, both kinds
    assert restore.partitions_def == export.partitions_def
    assert restore.key == AssetKey(["cassandra", target_keyspace, "all_types"])
    spec = restore.specs_by_key[restore.key]
    assert [d.asset_key for d in spec.deps] == [export.key]
    assert set(spec.kinds) == {"iceberg", "cassandra"}
    assert spec.metadata["dagster/table_name"] == f"{target_keyspace}.all_types"

    assert export.partitions_def is not None
    keys = export.partitions_def.get_partition_keys()
    for key in keys:
        assert materialize([export], resources=res, partition_key=key, instance=instance).success
    snapshot = iceberg_table(tmp_path / "wh", f"{keyspace}.all_types").current_snapshot()
    assert snapshot is not None
    expected_counts = cassandra_range_counts(cassandra, keyspace, "all_types", SPLITS)

    # every range partition of the restore, one run each
    for key in keys:
        result = materialize([restore], resources=res, partition_key=key, instance=instance)
        assert result.success
        (mat,) = result.asset_materializations_for_node(restore.node_def.name)
        md = _md(mat)
        assert md["dagster/row_count"] == expected_counts[key]
        assert md["cassandra_bulk/rejected"] == 0
        assert md["cassandra_bulk/skipped_other_range"] == 0  # the _cb_range filter read only this range
        assert md["cassandra_bulk/snapshot_id"] == str(snapshot.snapshot_id)
        # non-frozen lists (l, lm): a list written twice at one timestamp would hold its elements twice
        assert md["cassandra_bulk/write_timestamp_policy"] == "operation"
        assert int(md["cassandra_bulk/write_timestamp"]) > snapshot.timestamp_ms * 1000
        assert md["cassandra_bulk/duration_s"] >= 0
        assert Path(md["cassandra_bulk/log_dir"]).is_dir()
        assert (Path(md["cassandra_bulk/log_dir"]) / "summary.json").is_file()
        assert md["dagster/table_name"] == f"{target_keyspace}.all_types"

    before = _rows(reader, keyspace, "all_types", COLUMNS)
    after = _rows(reader, target_keyspace, "all_types", COLUMNS)
    assert len(after) == 400 and set(after) == set(before)
    for pk, row in before.items():
        assert after[pk] == row, pk

    # re-materializing one partition: no duplicate rows, no list element twice, every value the same
    key = keys[3]
    assert expected_counts[key] > 0
    assert materialize([restore], resources=res, partition_key=key, instance=instance).success
    assert _rows(reader, target_keyspace, "all_types", COLUMNS) == before
    assert reader.execute(f"SELECT count(*) FROM {target_keyspace}.all_types").one()[0] == 400


WIDE = """CREATE TABLE {ks}.wide (id bigint, ck int, name text, score double, born date, at timestamp,
    u uuid, tags set<text>, attrs map<text, int>, payload blob, amount decimal, fl frozen<list<int>>,
    PRIMARY KEY ((id), ck))"""
WIDE_COLUMNS = ["id", "ck", "name", "score", "born", "at", "u", "tags", "attrs", "payload", "amount", "fl"]
WRITETIMES = ["id", "ck", "writetime(name)", "writetime(score)", "writetime(amount)", "writetime(fl)"]


def _fill_wide(session: Any, ks: str, n: int) -> None:
    import datetime as dt
    import decimal

    insert = session.prepare(f"INSERT INTO {ks}.wide ({', '.join(WIDE_COLUMNS)}) VALUES ({', '.join('?' * 12)})")
    for i in range(n):
        session.execute(
            insert,
            (
                i // 4,
                i % 4,
                f"n{i}" if i % 7 else None,
                i / 3,
                dt.date(2020, 1, 1) + dt.timedelta(days=i),
                dt.datetime(2021, 1, 1) + dt.timedelta(seconds=i),
                uuid.UUID(int=i),
                {f"t{i % 3}", "x"},
                {"a": i, "b": -i},
                bytes([i % 256]) * 3,
                decimal.Decimal(i).scaleb(-2),
                [i, i, i + 1],
            ),
        )


def test_rematerializing_a_partition_leaves_values_and_writetimes_unchanged(
    cassandra: Any, session: Any, keyspace: str, target_keyspace: str, tmp_path: Path
) -> None:
    """No non-frozen list: every cell is written at the snapshot's commit time, so re-runs are no-ops."""
    session.execute(WIDE.format(ks=keyspace))
    session.execute(WIDE.format(ks=target_keyspace))
    _fill_wide(session, keyspace, 400)
    source = CassandraTable(keyspace, "wide", splits=SPLITS)
    export = build_cassandra_iceberg_asset(source)
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "wide", source=source), log_dir=str(tmp_path / "logs")
    )
    res = resources(cassandra, tmp_path / "wh")
    instance = DagsterInstance.ephemeral()
    assert restore.partitions_def is not None
    keys = restore.partitions_def.get_partition_keys()
    for key in keys:
        assert materialize([export], resources=res, partition_key=key, instance=instance).success
    snapshot = iceberg_table(tmp_path / "wh", f"{keyspace}.wide").current_snapshot()
    assert snapshot is not None
    stamp = snapshot.timestamp_ms * 1000
    for key in keys:
        result = materialize([restore], resources=res, partition_key=key, instance=instance)
        (mat,) = result.asset_materializations_for_node(restore.node_def.name)
        assert _md(mat)["cassandra_bulk/write_timestamp_policy"] == "snapshot"
        assert _md(mat)["cassandra_bulk/write_timestamp"] == str(stamp)
    before = _rows(session, keyspace, "wide", WIDE_COLUMNS)
    after = _rows(session, target_keyspace, "wide", WIDE_COLUMNS)
    assert len(after) == 400 and after == before
    writetimes = _rows(session, target_keyspace, "wide", WRITETIMES)
    cells = {v for row in writetimes.values() for k, v in row.items() if k.startswith("writetime")}
    assert cells == {stamp, None}  # None: the null names, left unset

    for key in (keys[2], keys[5]):
        result = materialize([restore], resources=res, partition_key=key, instance=instance)
        (mat,) = result.asset_materializations_for_node(restore.node_def.name)
        assert _md(mat)["dagster/row_count"] > 0
        assert _rows(session, target_keyspace, "wide", WIDE_COLUMNS) == before
        assert _rows(session, target_keyspace, "wide", WRITETIMES) == writetimes
    assert session.execute(f"SELECT count(*) FROM {target_keyspace}.wide").one()[0] == 400


def test_batch_run_loads_each_range_with_its_own_figures(
    cassandra: Any, session: Any, keyspace: str, target_keyspace: str, tmp_path: Path
) -> None:
    """A run holding several ranges (``ranges_per_run=4``): one load per range, one materialization each."""
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    fill(session, keyspace, 300)
    session.execute(f"CREATE TABLE {target_keyspace}.items (id int PRIMARY KEY, name text, price double)")
    source = CassandraTable(keyspace, "items", splits=4)
    export = build_cassandra_iceberg_asset(source, backfill_policy=backfill_policy_for("all"))
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "items", source=source),
        backfill_policy=backfill_policy_for("all"),
        log_dir=str(tmp_path / "logs"),
    )
    res = resources(cassandra, tmp_path / "wh")
    tags = {ASSET_PARTITION_RANGE_START_TAG: "r0-of-4", ASSET_PARTITION_RANGE_END_TAG: "r3-of-4"}
    assert materialize([export], resources=res, tags=tags).success
    result = materialize([restore], resources=res, tags=tags)
    assert result.success
    expected = cassandra_range_counts(cassandra, keyspace, "items", 4)
    mats = result.asset_materializations_for_node(restore.node_def.name)
    assert sorted(m.partition for m in mats) == sorted(expected)
    for mat in mats:
        md = _md(mat)
        assert md["dagster/row_count"] == expected[mat.partition]
        assert md["cassandra_bulk/rows_by_range"] == expected
    assert _rows(session, target_keyspace, "items", ["id", "name", "price"]) == _rows(
        session, keyspace, "items", ["id", "name", "price"]
    )


def test_rejected_records_fail_the_partition_unless_max_errors_allows_them(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path
) -> None:
    """Files source (CSV): 3 of 50 records do not fit; max_errors 0 fails without retrying, 10 warns."""
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, n int)")
    bad = {7, 21, 33}
    lines = ["k,n"] + [f"{i},{'x' if i in bad else i * 2}" for i in range(50)]
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    res = resources(cassandra, tmp_path / "wh")
    strict = build_iceberg_cassandra_asset(
        IcebergCassandraTable(keyspace, "kv", path=str(tmp_path / "in.csv"), format="csv", splits=1),
        retry_policy=RetryPolicy(max_retries=2),
        log_dir=str(tmp_path / "logs"),
    )
    assert set(strict.specs_by_key[strict.key].kinds) == {"csv", "cassandra"}
    assert "cassandra" in strict.required_resource_keys and "iceberg" not in strict.required_resource_keys
    failed = materialize([strict], resources=res, partition_key="r0-of-1", raise_on_error=False)
    assert not failed.success
    assert not [e for e in failed.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]  # not retried
    (failure,) = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "max_errors=0" in str(failure.event_specific_data)
    assert not failed.asset_materializations_for_node(strict.node_def.name)

    lenient = build_iceberg_cassandra_asset(
        IcebergCassandraTable(keyspace, "kv", path=str(tmp_path / "in.csv"), format="csv", splits=1, max_errors=10),
        log_dir=str(tmp_path / "logs"),
    )
    instance = DagsterInstance.ephemeral()
    result = materialize([lenient], resources=res, partition_key="r0-of-1", instance=instance)
    assert result.success
    (mat,) = result.asset_materializations_for_node(lenient.node_def.name)
    md = _md(mat)
    assert (md["dagster/row_count"], md["cassandra_bulk/rejected"]) == (47, 3)
    assert "3 record(s) rejected" in md["cassandra_bulk/warnings"]
    assert md["cassandra_bulk/snapshot_id"] == ""
    assert (Path(md["cassandra_bulk/log_dir"]) / "errors.log").read_text().count("\n") == 3
    warned = [r for r in instance.all_logs(result.run_id) if r.level == logging.WARNING]
    assert any("3 record(s) rejected" in r.user_message for r in warned)
    assert {r.k for r in session.execute(f"SELECT k FROM {keyspace}.kv")} == set(range(50)) - bad


def test_daily_source_loads_the_newest_date(
    cassandra: Any, session: Any, keyspace: str, target_keyspace: str, tmp_path: Path
) -> None:
    fill(session, keyspace, 60)
    source = CassandraTable(keyspace, "items", splits=2, mode="daily", start_date="2026-11-01")
    export = build_cassandra_iceberg_asset(source)
    res = resources(cassandra, tmp_path / "wh")
    from dagster import MultiPartitionKey

    assert materialize(
        [export], resources=res, partition_key=MultiPartitionKey({"date": "2026-11-01", "range": "r0-of-2"})
    ).success
    session.execute(f"UPDATE {keyspace}.items SET name = 'newer' WHERE id = 1")
    for range_id in ("r0-of-2", "r1-of-2"):
        key = MultiPartitionKey({"date": "2026-11-02", "range": range_id})
        assert materialize([export], resources=res, partition_key=key).success
    session.execute(f"CREATE TABLE {target_keyspace}.items (id int PRIMARY KEY, name text, price double)")
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "items", source=source), log_dir=str(tmp_path / "logs")
    )
    assert restore.partitions_def is not None and restore.partitions_def.get_partition_keys() == ["r0-of-2", "r1-of-2"]
    total = 0
    for range_id in ("r0-of-2", "r1-of-2"):
        result = materialize([restore], resources=res, partition_key=range_id)
        (mat,) = result.asset_materializations_for_node(restore.node_def.name)
        md = _md(mat)
        assert md["cassandra_bulk/export_date"] == "2026-11-02"
        assert md["cassandra_bulk/skipped_other_range"] == 0
        total += md["dagster/row_count"]
    assert total == 60
    assert _rows(session, target_keyspace, "items", ["id", "name", "price"]) == _rows(
        session, keyspace, "items", ["id", "name", "price"]
    )


def test_password_from_envvar_never_reaches_load_metadata_or_logs(
    cassandra: Any,
    session: Any,
    keyspace: str,
    target_keyspace: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if connection_config(cassandra).password:
        pytest.skip("the node requires real credentials; this test sets its own password")
    fill(session, keyspace, 40)
    session.execute(f"CREATE TABLE {target_keyspace}.items (id int PRIMARY KEY, name text, price double)")
    secret = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv("CB_SECRET_PASSWORD", secret)
    source = CassandraTable(keyspace, "items", splits=2)
    export = build_cassandra_iceberg_asset(source)
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "items", source=source),
        retry_policy=None,
        log_dir=str(tmp_path / "logs"),
    )
    broken = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "nope", source=source), retry_policy=None, log_dir=str(tmp_path / "l2")
    )
    res = resources(cassandra, tmp_path / "wh", password_env="CB_SECRET_PASSWORD")
    with instance_for_test() as instance, caplog.at_level(logging.DEBUG):
        for key in ("r0-of-2", "r1-of-2"):
            assert materialize([export], resources=res, partition_key=key, instance=instance).success
            assert materialize([restore], resources=res, partition_key=key, instance=instance).success
        failed = materialize([broken], resources=res, partition_key="r0-of-2", instance=instance, raise_on_error=False)
        assert not failed.success
        event = instance.get_latest_materialization_event(restore.key)
        assert event is not None and secret not in str(event)
        assert assert_secret_nowhere(secret, instance, Path(instance.root_directory)) > 20
    assert caplog.text and secret not in caplog.text
    for path in (tmp_path / "logs").rglob("*"):  # the engine's checkpoints, summaries and reject logs
        assert path.is_dir() or secret.encode() not in path.read_bytes(), path
    assert session.execute(f"SELECT count(*) FROM {target_keyspace}.items").one()[0] == 40


@pytest.mark.parametrize("fault", ["before_writing", "after_writing"])
def test_failed_first_attempt_is_retried_and_rewrites_the_same_cells(
    cassandra: Any,
    session: Any,
    keyspace: str,
    target_keyspace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    """The first attempt fails (before any write, or after writing every row): the retry policy's second
    attempt loads the range, and the table holds each row once, written at the snapshot's time."""
    import cassandra_bulk_core.load as engine_load

    fill(session, keyspace, 150)
    session.execute(f"CREATE TABLE {target_keyspace}.items (id int PRIMARY KEY, name text, price double)")
    source = CassandraTable(keyspace, "items", splits=1)
    export = build_cassandra_iceberg_asset(source)
    res = resources(cassandra, tmp_path / "wh")
    assert materialize([export], resources=res, partition_key="r0-of-1").success
    real = engine_load.load_table
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            if fault == "after_writing":
                real(*args, **kwargs)
            raise engine_load.LoadFailed(f"injected fault ({fault})")
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_load, "load_table", flaky)
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "items", source=source),
        retry_policy=RetryPolicy(max_retries=2),
        log_dir=str(tmp_path / "logs"),
    )
    result = materialize([restore], resources=res, partition_key="r0-of-1", raise_on_error=False)
    assert result.success and calls["n"] == 2
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 1 and "injected fault" in str(retries[0].event_specific_data)
    (mat,) = result.asset_materializations_for_node(restore.node_def.name)
    assert _md(mat)["dagster/row_count"] == 150
    assert _rows(session, target_keyspace, "items", ["id", "name", "price"]) == _rows(
        session, keyspace, "items", ["id", "name", "price"]
    )
    snapshot = iceberg_table(tmp_path / "wh", f"{keyspace}.items").current_snapshot()
    assert snapshot is not None
    stamps = {r.w for r in session.execute(f"SELECT writetime(name) AS w FROM {target_keyspace}.items")}
    assert stamps == {snapshot.timestamp_ms * 1000}


def test_a_row_filter_still_reads_only_the_partitions_range(
    cassandra: Any, session: Any, keyspace: str, target_keyspace: str, tmp_path: Path
) -> None:
    fill(session, keyspace, 200)  # price = id * 1.5
    session.execute(f"CREATE TABLE {target_keyspace}.items (id int PRIMARY KEY, name text, price double)")
    source = CassandraTable(keyspace, "items", splits=2)
    export = build_cassandra_iceberg_asset(source)
    res = resources(cassandra, tmp_path / "wh")
    restore = build_iceberg_cassandra_asset(
        IcebergCassandraTable(target_keyspace, "items", source=source, row_filter="price >= 150"),
        log_dir=str(tmp_path / "logs"),
    )
    total = 0
    for key in ("r0-of-2", "r1-of-2"):
        assert materialize([export], resources=res, partition_key=key).success
    for key in ("r0-of-2", "r1-of-2"):
        (mat,) = materialize([restore], resources=res, partition_key=key).asset_materializations_for_node(
            restore.node_def.name
        )
        md = _md(mat)
        assert md["cassandra_bulk/skipped_other_range"] == 0  # the range narrowed the scan, not the token check
        total += md["dagster/row_count"]
    assert total == 100
    assert {r.id for r in session.execute(f"SELECT id FROM {target_keyspace}.items")} == set(range(100, 200))
