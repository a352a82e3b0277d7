"""Iceberg through AWS Glue and AWS S3 Tables on the real node, both served by moto's server.

The session's ``moto_s3`` server answers S3, Glue and S3 Tables on one port. Glue: pyiceberg's Glue
catalog (``type=glue``, ``glue.endpoint``), data and metadata on moto S3, per-range commits from 3
processes (moto's Glue made to check ``VersionId`` as AWS does: see ``tests/s3_server.py``). S3 Tables:
``type=s3tables`` (``cassandra_bulk_core/iceberg/s3tables.py``), the table bucket, namespace and table
created through the S3 Tables API, commits by swapping the metadata location under the version token,
data in the table's own storage bucket (where moto, like AWS, refuses listing). Not exercised: the S3
Tables Iceberg REST endpoint (``s3tables.catalog=rest``), which moto does not implement.

moto checks no signatures, so the secret below is arbitrary: it is searched for in what the export
leaves behind (metadata files, table and snapshot properties, Glue parameters, logs) and must be absent.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cassandra_bulk_core import ConfigError, plan_ranges, resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg, load_catalog, operation_snapshot_id, verify
from cassandra_bulk_core.iceberg.s3tables import (
    ensure_s3tables_namespace,
    ensure_table_bucket,
    rest_properties,
    s3tables_client,
)
from cassandra_bulk_core.load import LoadOptions, load_table
from cassandra_bulk_core.sources import IcebergSource
from tests.alltypes import COLUMNS, EDGE_ROWS, create_and_fill, random_rows, reference_rows
from tests.conftest import connection_config
from tests.integration.test_iceberg import _rows_by_key
from tests.s3_server import GLUE_CONFLICTS, S3Server

SECRET = f"s3cr3t-{uuid.uuid4().hex}"
SPLITS = 6
ROWS = 300


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


@pytest.fixture
def restore_keyspace(session: Any, keyspace: str) -> Iterator[str]:
    """A second keyspace with an empty ``all_types``, to load a snapshot back into."""
    name = f"{keyspace}_r"
    session.execute(f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    try:
        create_and_fill(session, name, [])
        yield name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")


def _aws(moto: S3Server) -> dict[str, str]:
    return {
        "client.access-key-id": moto.access_key_id,
        "client.secret-access-key": SECRET,
        "client.region": moto.region,
        "s3.endpoint": moto.endpoint_url,
        "s3.access-key-id": moto.access_key_id,
        "s3.secret-access-key": SECRET,
        "s3.region": moto.region,
    }


def _glue_props(moto: S3Server) -> dict[str, str]:
    return {"type": "glue", "glue.endpoint": moto.endpoint_url, "warehouse": moto.uri(), **_aws(moto)}


def _s3tables_props(moto: S3Server, bucket: str) -> dict[str, str]:
    return {"type": "s3tables", "s3tables.endpoint": moto.endpoint_url, "s3tables.table-bucket": bucket, **_aws(moto)}


def _bucket_name() -> str:
    return f"cb-{uuid.uuid4().hex[:12]}"


def _assert_rows(table: Any, expected: dict[Any, dict[str, Any]]) -> None:
    got = _rows_by_key(table.scan().to_arrow())
    assert set(got) == set(expected)
    for key, row in expected.items():
        for col in COLUMNS:
            assert got[key][col] == row[col], f"{key} {col}: iceberg {got[key][col]!r} != cassandra {row[col]!r}"


def _one_commit_per_range(table: Any, splits: int) -> None:
    ranges = [s.summary.additional_properties.get("cassandra-bulk.ranges") for s in table.snapshots()]
    assert sorted(r for r in ranges if r) == sorted(r.id for r in plan_ranges(splits))


def _no_secret_in_table(table: Any) -> None:
    assert not any(SECRET in f"{k}={v}" for k, v in table.properties.items())
    for snap in table.snapshots():
        assert SECRET not in str(snap.summary.additional_properties)
    for location in [table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)]:
        with table.io.new_input(location).open() as f:
            assert SECRET.encode() not in f.read(), location


def _change_and_load_back(
    cluster: Any, sess: Any, keyspace: str, target_ks: str, first: Any, props: dict[str, str], tmp: Any
) -> tuple[Any, dict[Any, dict[str, Any]]]:
    """Change one row and export its range again, then load the FIRST export's snapshot into ``target_ks``."""
    ident = f"{keyspace}.all_types"
    table = load_catalog(IcebergOptions(catalog_properties=props)).load_table(ident)
    snap = operation_snapshot_id(table, first.operation_id)
    assert snap is not None
    key = next(k for k in _rows_by_key(table.scan().to_arrow()) if k[1] is not None)
    sess.execute(f"UPDATE {keyspace}.all_types SET a = 'changed-after-snapshot' WHERE id = %s AND ck = %s", key)
    token = sess.execute(f"SELECT token(id) FROM {keyspace}.all_types WHERE id = %s LIMIT 1", key[:1]).one()[0]
    [planned] = [r for r in plan_ranges(SPLITS) if r.tokens.start < token <= r.tokens.end]
    info = resolve_table(cluster, keyspace, "all_types")
    again = ExportOptions(destination="", splits=SPLITS, only_ranges=(planned.id,))
    export_to_iceberg(cluster, sess, info, again, IcebergOptions(catalog_properties=props))
    table = load_catalog(IcebergOptions(catalog_properties=props)).load_table(ident)
    assert _rows_by_key(table.scan().to_arrow())[key]["a"] == "changed-after-snapshot"
    src = IcebergSource(table=ident, catalog_properties=props, snapshot_id=snap)
    result = load_table(
        cluster, sess, resolve_table(cluster, target_ks, "all_types"), LoadOptions(iceberg=src, log_dir=str(tmp))
    )
    return result, reference_rows(sess, target_ks)


def test_glue_catalog_three_processes_verify_and_load_back_a_snapshot(
    cassandra: Any,
    conn: Any,
    keyspace: str,
    session: Any,
    restore_keyspace: str,
    moto_s3: S3Server,
    tmp_path: Any,
    caplog: Any,
) -> None:
    caplog.set_level(logging.INFO)  # botocore's DEBUG logs every request signature: too slow
    caplog.set_level(logging.DEBUG, logger="cassandra_bulk_core")
    cluster, sess = conn
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(ROWS, seed=31))
    expected = reference_rows(sess, keyspace)
    info = resolve_table(cluster, keyspace, "all_types")
    props = _glue_props(moto_s3)
    ice = IcebergOptions(catalog_properties=props)
    conflicts_before = len(GLUE_CONFLICTS)
    first = export_to_iceberg(
        cluster,
        sess,
        info,
        ExportOptions(destination="", splits=SPLITS),
        ice,
        processes=3,
        connection=connection_config(cassandra),
    )
    assert first.rows == len(expected)
    table = load_catalog(ice).load_table(f"{keyspace}.all_types")
    glue = moto_s3.aws_client("glue").get_table(DatabaseName=keyspace, Name="all_types")["Table"]
    assert glue["Parameters"]["table_type"] == "ICEBERG"
    assert glue["Parameters"]["metadata_location"] == table.metadata_location
    assert table.location().startswith(props["warehouse"])
    _assert_rows(table, expected)
    _one_commit_per_range(table, SPLITS)
    assert verify(cluster, sess, info, table, plan_ranges(SPLITS)).ok
    refused = GLUE_CONFLICTS[conflicts_before:]
    logging.getLogger(__name__).info("glue: %d commit(s) refused for a stale VersionId, retried", len(refused))

    result, restored = _change_and_load_back(cluster, sess, keyspace, restore_keyspace, first, props, tmp_path)
    assert result.rows_written == len(expected)
    assert restored == expected  # the snapshot, not the table's current state
    table = load_catalog(ice).load_table(f"{keyspace}.all_types")
    _no_secret_in_table(table)
    assert SECRET not in str(moto_s3.aws_client("glue").get_table(DatabaseName=keyspace, Name="all_types"))
    assert SECRET not in caplog.text


def test_s3tables_concurrent_range_commits_verify_and_load_back_a_snapshot(
    cassandra: Any,
    conn: Any,
    keyspace: str,
    session: Any,
    restore_keyspace: str,
    moto_s3: S3Server,
    tmp_path: Any,
    caplog: Any,
) -> None:
    """Nothing exists yet in S3 Tables: the export creates the table bucket, the namespace and the table;
    its ranges commit from 3 threads at once, so version tokens go stale and commits are retried."""
    caplog.set_level(logging.INFO)  # botocore's DEBUG logs every request signature: too slow
    caplog.set_level(logging.DEBUG, logger="cassandra_bulk_core")
    cluster, sess = conn
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(ROWS, seed=32))
    expected = reference_rows(sess, keyspace)
    info = resolve_table(cluster, keyspace, "all_types")
    bucket = _bucket_name()
    props = _s3tables_props(moto_s3, bucket)
    api = moto_s3.aws_client("s3tables")
    assert api.list_table_buckets(prefix=bucket)["tableBuckets"] == []
    options = ExportOptions(destination="", splits=SPLITS, range_workers=3)
    first = export_to_iceberg(cluster, sess, info, options, IcebergOptions(catalog_properties=props))
    assert first.rows == len(expected)
    [found] = api.list_table_buckets(prefix=bucket)["tableBuckets"]
    arn = found["arn"]
    assert [n["namespace"] for n in api.list_namespaces(tableBucketARN=arn)["namespaces"]] == [[keyspace]]
    assert [t["name"] for t in api.list_tables(tableBucketARN=arn, namespace=keyspace)["tables"]] == ["all_types"]
    where = api.get_table_metadata_location(tableBucketARN=arn, namespace=keyspace, name="all_types")
    table = load_catalog(IcebergOptions(catalog_properties=props)).load_table(f"{keyspace}.all_types")
    assert table.metadata_location == where["metadataLocation"]
    assert table.location() == where["warehouseLocation"] and where["warehouseLocation"].endswith("--table-s3")
    _assert_rows(table, expected)
    _one_commit_per_range(table, SPLITS)
    assert verify(cluster, sess, info, table, plan_ranges(SPLITS)).ok

    result, restored = _change_and_load_back(cluster, sess, keyspace, restore_keyspace, first, props, tmp_path)
    assert result.rows_written == len(expected)
    assert restored == expected
    table = load_catalog(IcebergOptions(catalog_properties=props)).load_table(f"{keyspace}.all_types")
    _no_secret_in_table(table)
    assert SECRET not in caplog.text
    # table buckets refuse listing and deleting: neither is attempted, so nothing warns about it
    assert "could not remove leftover" not in caplog.text and "Failed to delete" not in caplog.text


def test_s3tables_bucket_and_namespace_created_when_missing_idempotent_when_present(moto_s3: S3Server) -> None:
    props = _s3tables_props(moto_s3, "unused")
    client = s3tables_client(props)

    def listed(name: str) -> list[str]:
        return [b["name"] for b in client.list_table_buckets(prefix=name)["tableBuckets"]]

    name = _bucket_name()
    assert listed(name) == []
    arn = ensure_table_bucket(client, name)
    assert listed(name) == [name] and arn.endswith(f":bucket/{name}")
    assert ensure_table_bucket(client, name) == arn == ensure_table_bucket(client, None, arn)
    assert listed(name) == [name]
    racing = _bucket_name()  # four workers at once: one bucket, the same ARN for all
    with ThreadPoolExecutor(4) as pool:
        arns = set(pool.map(lambda _: ensure_table_bucket(client, racing), range(4)))
    assert len(arns) == 1 and listed(racing) == [racing]

    assert ensure_s3tables_namespace(client, arn, "ns_a") is True
    assert ensure_s3tables_namespace(client, arn, "ns_a") is False
    with ThreadPoolExecutor(4) as pool:
        created = list(pool.map(lambda _: ensure_s3tables_namespace(client, arn, "ns_b"), range(4)))
    namespaces = client.list_namespaces(tableBucketARN=arn)["namespaces"]
    assert created.count(True) >= 1 and sorted(n["namespace"][0] for n in namespaces) == ["ns_a", "ns_b"]

    # The catalog given an ARN as its warehouse (AWS's way of naming the bucket) creates it too.
    by_arn = f"{arn.rsplit('/', 1)[0]}/{_bucket_name()}"
    catalog = load_catalog(
        IcebergOptions(catalog_properties={**props, "s3tables.table-bucket": "", "warehouse": by_arn})
    )
    assert catalog.bucket_arn == by_arn and listed(by_arn.rsplit("/", 1)[1]) == [by_arn.rsplit("/", 1)[1]]
    catalog.create_namespace_if_not_exists("ns_c")
    catalog.create_namespace_if_not_exists("ns_c")
    assert catalog.list_namespaces() == [("ns_c",)]

    # s3tables.catalog=rest: the bucket is created through the API, then pyiceberg's REST catalog opens
    # the Iceberg endpoint, which moto's server does not implement: one line naming the endpoint.
    rest_bucket = _bucket_name()
    rest_props = {**props, "s3tables.table-bucket": rest_bucket, "s3tables.catalog": "rest"}
    rest_props["uri"] = f"{moto_s3.endpoint_url}/iceberg"
    with pytest.raises(ConfigError) as err:
        load_catalog(IcebergOptions(catalog_properties=rest_props))
    assert str(err.value).startswith(f"S3 Tables Iceberg REST endpoint {rest_props['uri']}: ")
    assert "\n" not in str(err.value) and SECRET not in str(err.value) and listed(rest_bucket) == [rest_bucket]

    rest = rest_properties({**props, "warehouse": "x"}, arn, "eu-west-1")
    assert rest["uri"] == "https://s3tables.eu-west-1.amazonaws.com/iceberg" and rest["warehouse"] == arn
    assert (rest["rest.sigv4-enabled"], rest["rest.signing-name"], rest["rest.signing-region"]) == (
        "true",
        "s3tables",
        "eu-west-1",
    )
    assert not any(k.startswith("s3tables.") for k in rest) and "type" not in rest


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"s3tables.table-bucket": ""}, "S3 Tables catalog: give s3tables.table-bucket-arn="),
        ({"s3tables.table-bucket": "xn--reserved-prefix"}, "S3 Tables create_table_bucket (table bucket xn--reserved"),
        ({"s3tables.catalog": "glue"}, "catalog property s3tables.catalog='glue': use api or rest"),
        (
            {"s3tables.endpoint": "http://127.0.0.64:9", "s3tables.max-retries": "1"},
            "S3 Tables list_table_buckets (table buckets): Could not connect",
        ),
        ({"s3tables.max-retries": "many"}, "catalog property s3tables.max-retries='many': not a whole number"),
    ],
)
def test_s3tables_errors_are_one_line(moto_s3: S3Server, change: dict[str, str], message: str) -> None:
    props = {**_s3tables_props(moto_s3, _bucket_name()), **change}
    with pytest.raises(ConfigError) as err:
        load_catalog(IcebergOptions(catalog_properties=props))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert SECRET not in str(err.value)


def test_cli_s3tables_export_and_its_error(cassandra: Any, keyspace: str, session: Any, moto_s3: S3Server) -> None:
    """The CLI way: credentials in the environment (the AWS chain), none on the command line."""
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    for k in range(50):
        session.execute(f"INSERT INTO {keyspace}.kv (k, v) VALUES ({k}, 'v{k}')")
    base = [sys.executable, "-m", "cassandra_bulk_core", "export", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "-t", f"{keyspace}.kv", "--to", "iceberg", "--splits", "3", "--no-progress"]
    base += ["--s3-endpoint-url", moto_s3.endpoint_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=moto_s3.access_key_id, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=moto_s3.region)
    props = {k: v for k, v in _s3tables_props(moto_s3, _bucket_name()).items() if "key" not in k}
    args = [x for k, v in props.items() for x in ("--catalog-prop", f"{k}={v}")]
    ok = subprocess.run([*base, *args], capture_output=True, text=True, timeout=180, env=env)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert SECRET not in ok.stdout + ok.stderr
    table = load_catalog(IcebergOptions(catalog_properties=_s3tables_props(moto_s3, props["s3tables.table-bucket"])))
    rows = table.load_table(f"{keyspace}.kv").scan().to_arrow().to_pylist()
    assert {r["k"]: r["v"] for r in rows} == {k: f"v{k}" for k in range(50)}
    bad = [*args, "--catalog-prop", "s3tables.table-bucket=", "--catalog-prop", "s3tables.table-bucket-arn="]
    failed = subprocess.run([*base, *bad], capture_output=True, text=True, timeout=180, env=env)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    lines = [line for line in failed.stderr.splitlines() if "S3 Tables" in line]
    assert len(lines) == 1 and "give s3tables.table-bucket-arn=" in lines[0], failed.stderr[-2000:]
    assert SECRET not in failed.stdout + failed.stderr
