"""Session-wide real Cassandra for the test run (see tools/local_cassandra).

Two clusters, each started once per run and shared: ``cassandra`` (1 node on 127.0.0.21) for the
integration tests and ``cassandra_cluster`` (3 nodes on 127.0.0.31-33) for the ``cluster`` tests.
They use their own address blocks, so a node started with ``make cassandra-up`` (127.0.0.1) can
keep running beside them. ``CASSANDRA_CONTACT_POINTS`` / ``CASSANDRA_CLUSTER_CONTACT_POINTS``
point the fixtures at existing clusters instead.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.rest_catalog_server import rest_catalog  # noqa: F401 - Iceberg REST catalog server (session)
from tests.s3_server import S3Server, moto_s3  # noqa: F401 - fixtures for every test module
from tools.local_cassandra import CassandraTarget, acquire

SINGLE_BASE = 21
CLUSTER_BASE = 31
_keyspace_ids = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration need the real node; mark them so `-m "not integration"` works."""
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)


def _shutdown_driver_clusters() -> None:
    """Shut down driver clusters still open (adapters cache one per process until exit) before the
    nodes stop: otherwise their reconnect threads log into pytest's closed capture streams."""
    from cassandra import cluster as driver

    shutdown = getattr(driver, "_shutdown_clusters", None)
    if shutdown is not None:
        shutdown()


@pytest.fixture(scope="session")
def cassandra() -> Iterator[CassandraTarget]:
    target = acquire(name="pytest-1", nodes=1, base_address=SINGLE_BASE)
    try:
        yield target
    finally:
        _shutdown_driver_clusters()
        target.release()


@pytest.fixture(scope="session")
def cassandra_cluster() -> Iterator[CassandraTarget]:
    target = acquire(name="pytest-3", nodes=3, base_address=CLUSTER_BASE)
    try:
        yield target
    finally:
        _shutdown_driver_clusters()
        target.release()


def connection_config(target: CassandraTarget, **overrides: Any) -> Any:
    from cassandra_bulk_core import ConnectionConfig

    return ConnectionConfig(
        contact_points=tuple(target.contact_points),
        port=target.port,
        username=target.username,
        password=target.password,
        local_dc=target.local_dc,
        **overrides,
    )


@pytest.fixture(scope="session")
def session(cassandra: CassandraTarget) -> Iterator[Any]:
    cluster, sess = connection_config(cassandra).connect()
    try:
        yield sess
    finally:
        cluster.shutdown()


@pytest.fixture
def keyspace(session: Any) -> Iterator[str]:
    """A fresh keyspace (RF 1) per test, dropped afterwards."""
    name = f"t_{os.getpid()}_{next(_keyspace_ids)}"
    session.execute(f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}")
    try:
        yield name
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {name}")
