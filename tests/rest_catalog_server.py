"""A real Iceberg REST catalog for tests: Apache Iceberg's reference server (see ``tools/rest_catalog.py``),
one per test session on 127.0.0.63, its warehouse a temporary local directory the tests share with it.

Tests ask for the ``rest_catalog`` fixture; every test uses its own namespace (its keyspace name), so the
tests share one server without seeing each other's tables. Starting it takes a few seconds (plus the
one-time Maven download, cached under ``~/.cache/cassandra-bulk``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.rest_catalog import RestCatalogServer


@pytest.fixture(scope="session")
def rest_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestCatalogServer]:
    """The running server; ``.properties()`` are the pyiceberg catalog properties that reach it."""
    server = RestCatalogServer(tmp_path_factory.mktemp("rest-catalog") / "warehouse").start()
    try:
        yield server
    finally:
        server.stop()
