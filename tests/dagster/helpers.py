"""Shared by the Dagster tests: resources for a test cluster, a sample table, both sides' counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance, EnvVar

from dagster_cassandra_bulk import CassandraResource, IcebergCatalogResource
from tests.conftest import connection_config


def resources(target: Any, warehouse: Path, *, password_env: str | None = None) -> dict[str, Any]:
    """The adapter's two resources; ``password_env`` passes the password as an ``EnvVar``."""
    config = connection_config(target)
    return {
        "cassandra": CassandraResource(
            contact_points=list(config.contact_points),
            port=config.port,
            local_dc=config.local_dc,
            username=config.username or ("etl" if password_env else None),
            password=EnvVar(password_env) if password_env else config.password,
        ),
        "iceberg": IcebergCatalogResource(warehouse=str(warehouse)),
    }


def fill(session: Any, keyspace: str, rows: int) -> None:
    session.execute(f"CREATE TABLE {keyspace}.items (id int PRIMARY KEY, name text, price double)")
    insert = session.prepare(f"INSERT INTO {keyspace}.items (id, name, price) VALUES (?, ?, ?)")
    for i in range(rows):
        session.execute(insert, (i, f"item-{i}", i * 1.5))


def iceberg_table(warehouse: Path, identifier: str) -> Any:
    return IcebergCatalogResource(warehouse=str(warehouse)).load_table(identifier)


def iceberg_rows(warehouse: Path, identifier: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = iceberg_table(warehouse, identifier).scan().to_arrow().to_pylist()
    return rows


def cassandra_range_counts(target: Any, keyspace: str, table: str, splits: int) -> dict[str, int]:
    """Rows per planned range, counted by the engine in Cassandra."""
    from cassandra_bulk_core.count import count_table
    from cassandra_bulk_core.ring import plan_ranges
    from cassandra_bulk_core.table import resolve_table

    cluster, session = connection_config(target).connect()
    try:
        return count_table(cluster, session, resolve_table(cluster, keyspace, table), plan_ranges(splits)).per_range
    finally:
        cluster.shutdown()


def assert_secret_nowhere(secret: str, instance: DagsterInstance, root: Path | None = None) -> int:
    """The secret is in no event of any run (metadata, logs, run config) and in no file under ``root``.

    Returns how many events were scanned, so a test can show it looked at something.
    """
    scanned = 0
    for run in instance.get_runs():
        assert secret not in str(run.run_config) and secret not in str(run.tags)
        for record in instance.all_logs(run.run_id):
            scanned += 1
            assert secret not in str(record), record
    assert scanned > 0
    if root is not None:  # every file Dagster wrote: event log and run DBs, captured stdout/stderr
        files = [p for p in root.rglob("*") if p.is_file()]
        assert files
        for path in files:
            assert secret.encode() not in path.read_bytes(), path
    return scanned
