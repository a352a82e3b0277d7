"""Export on 3 nodes with RF 2: exact rows for any split count, every query on a replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from cassandra import ConsistencyLevel
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.metadata import Murmur3Token

from cassandra_bulk_core import plan_ranges, resolve_table
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.scan import ScanOptions, ScanStats, TableScan
from tests.conftest import connection_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
ROWS = 5_000


@pytest.fixture(scope="module")
def rf2_table(cassandra_cluster: Any) -> Any:
    cluster, session = connection_config(cassandra_cluster).connect()
    session.execute("DROP KEYSPACE IF EXISTS ex2")
    session.execute("CREATE KEYSPACE ex2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}")
    session.execute("CREATE TABLE ex2.kv (k int, c int, v text, PRIMARY KEY ((k), c))")
    insert = session.prepare("INSERT INTO ex2.kv (k, c, v) VALUES (?, ?, ?)")
    insert.consistency_level = ConsistencyLevel.ALL
    results = execute_concurrent_with_args(
        session, insert, [(i // 2, i % 2, f"v{i}") for i in range(ROWS)], concurrency=64, raise_on_first_error=True
    )
    assert all(ok for ok, _ in results)
    cluster.refresh_schema_metadata()
    yield cluster, session, resolve_table(cluster, "ex2", "kv")
    session.execute("DROP KEYSPACE IF EXISTS ex2")
    cluster.shutdown()


@pytest.mark.parametrize("splits", [1, 7, 64, 1024])
def test_export_has_exactly_the_table_rows(rf2_table: Any, tmp_path: Path, splits: int) -> None:
    cluster, session, info = rf2_table
    opts = ExportOptions(destination=str(tmp_path), splits=splits, range_workers=4, scan=ScanOptions(streams=2))
    result = export_table(cluster, session, info, opts)
    table = pq.read_table(sorted(tmp_path.glob("*.parquet")))
    keys = list(zip(table.column("k").to_pylist(), table.column("c").to_pylist(), strict=True))
    assert len(keys) == ROWS == result.rows
    assert len(set(keys)) == ROWS, "duplicates"
    assert set(keys) == {(i // 2, i % 2) for i in range(ROWS)}


def test_every_page_is_read_from_a_replica_of_its_sub_range(rf2_table: Any) -> None:
    cluster, session, info = rf2_table
    scan = TableScan(cluster, session, info, ScanOptions(page_size=100, streams=3))
    token_map = cluster.metadata.token_map
    stats = ScanStats(routes=[])
    rows = sum(b.num_rows for planned in plan_ranges(7) for b in scan.batches(planned, stats))
    assert rows == ROWS
    assert stats.routes and stats.pages == len(stats.routes)
    for tokens, host in stats.routes:
        replicas = {h.address for h in token_map.get_replicas("ex2", Murmur3Token(tokens.end))}
        assert host in replicas, f"({tokens.start}, {tokens.end}] read from {host}, replicas {replicas}"
    assert len(stats.hosts) == 3
