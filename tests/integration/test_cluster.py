"""Against the real 3-node cluster: topology seen by the driver, CL ALL, and replica routing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.metadata import Murmur3Token
from cassandra.policies import WhiteListRoundRobinPolicy
from cassandra.query import SimpleStatement

from cassandra_bulk_core import count_table, plan_ranges, resolve_table, route
from tests.conftest import connection_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NUM_TOKENS = 16
ROWS = 3_000


@pytest.fixture(scope="module")
def cluster3(cassandra_cluster: Any) -> Any:
    cluster, session = connection_config(cassandra_cluster).connect()
    session.execute("DROP KEYSPACE IF EXISTS c3")
    session.execute("CREATE KEYSPACE c3 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}")
    session.execute(
        "CREATE KEYSPACE IF NOT EXISTS c2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}"
    )
    yield cluster, session
    session.execute("DROP KEYSPACE IF EXISTS c3")
    session.execute("DROP KEYSPACE IF EXISTS c2")
    cluster.shutdown()


def test_driver_sees_three_hosts_and_all_vnode_tokens(cluster3: Any, cassandra_cluster: Any) -> None:
    cluster, _ = cluster3
    hosts = cluster.metadata.all_hosts()
    assert len(hosts) == 3
    assert all(h.is_up for h in hosts)
    if cassandra_cluster.backend == "local":
        assert len(cluster.metadata.token_map.ring) == 3 * NUM_TOKENS


def test_write_at_all_then_every_node_alone_has_every_row(cluster3: Any, cassandra_cluster: Any) -> None:
    _, session = cluster3
    session.execute("CREATE TABLE IF NOT EXISTS c3.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare("INSERT INTO c3.kv (k, v) VALUES (?, ?)")
    insert.consistency_level = ConsistencyLevel.ALL
    results = execute_concurrent_with_args(
        session, insert, [(i, f"v{i}") for i in range(ROWS)], concurrency=32, raise_on_first_error=True
    )
    assert all(ok for ok, _ in results)
    for address in cassandra_cluster.contact_points:
        profile = ExecutionProfile(
            load_balancing_policy=WhiteListRoundRobinPolicy([address]), consistency_level=ConsistencyLevel.ONE
        )
        single = Cluster([address], port=cassandra_cluster.port, execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        try:
            s = single.connect()
            rows = {r.k: r.v for r in s.execute(SimpleStatement("SELECT k, v FROM c3.kv", fetch_size=1000))}
            assert len(rows) == ROWS, f"node {address} has {len(rows)} rows"
            assert all(rows[i] == f"v{i}" for i in range(ROWS))
        finally:
            single.shutdown()


def test_every_sub_query_goes_to_a_replica_of_its_range(cluster3: Any) -> None:
    cluster, session = cluster3
    session.execute("CREATE TABLE IF NOT EXISTS c2.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare("INSERT INTO c2.kv (k, v) VALUES (?, ?)")
    insert.consistency_level = ConsistencyLevel.ALL
    execute_concurrent_with_args(session, insert, [(i, "x") for i in range(ROWS)], concurrency=32)
    cluster.refresh_schema_metadata()
    token_map = cluster.metadata.token_map
    for n in (1, 7, 64):
        for planned in plan_ranges(n):
            for piece in route(cluster, "c2", planned.tokens):
                assert len(piece.replicas) == 2
                # Every token of the piece is served by exactly this replica set.
                for t in (piece.tokens.start + 1, piece.tokens.end):
                    assert set(token_map.get_replicas("c2", Murmur3Token(t))) == set(piece.replicas)
        table = resolve_table(cluster, "c2", "kv")
        result = count_table(cluster, session, table, plan_ranges(n))
        assert result.total == ROWS
        assert set(result.per_host) <= {h.address for h in cluster.metadata.all_hosts()}
        assert len(Counter(result.per_host)) == 3, "work should spread over all three nodes"
