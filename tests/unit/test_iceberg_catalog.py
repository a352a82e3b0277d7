"""The Iceberg catalog side without Cassandra: concurrent first exports into an empty warehouse."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from cassandra_bulk_core.iceberg import IcebergOptions, ensure_table, load_catalog
from cassandra_bulk_core.table import TableInfo

WORKERS = 8


def _info() -> TableInfo:
    return TableInfo("ks", "items", ("id",), ("ck",), ("id", "ck", "v"), metadata=None)


def _scan() -> Any:
    """What ensure_table reads of a TableScan: its Arrow schema."""
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("ck", pa.string(), nullable=False),
            pa.field("v", pa.float64()),
        ]
    )
    return SimpleNamespace(schema=schema)


@pytest.mark.parametrize("trial", range(3))
def test_concurrent_first_exports_create_namespace_and_table_once(tmp_path: Path, trial: int) -> None:
    """8 workers open a fresh SQLite warehouse and create the same namespace and table at the same
    moment. The SQL catalog checks, then inserts, so they used to fail with ``IntegrityError: UNIQUE
    constraint failed: iceberg_namespace_properties...`` (or ``table iceberg_tables already exists``
    while the catalog made its own tables); every worker must now get the one table."""
    options = IcebergOptions(warehouse=str(tmp_path / "wh"))
    barrier = threading.Barrier(WORKERS)
    errors: list[BaseException] = []
    tables: list[Any] = []

    def worker() -> None:
        try:
            barrier.wait()
            tables.append(ensure_table(load_catalog(options), _info(), _scan(), options))
        except BaseException as exc:  # collected: a thread's exception would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(tables) == WORKERS
    catalog = load_catalog(options)
    assert catalog.list_namespaces() == [("ks",)]
    assert catalog.list_tables("ks") == [("ks", "items")]
    names = [f.name for f in catalog.load_table("ks.items").schema().fields]
    assert names == ["id", "ck", "v", "_cb_range"]
    assert {t.metadata.table_uuid for t in tables} == {catalog.load_table("ks.items").metadata.table_uuid}


def test_a_namespace_failure_that_is_no_race_still_raises(tmp_path: Path) -> None:
    from cassandra_bulk_core.iceberg import ensure_namespace

    class Refusing:
        def create_namespace_if_not_exists(self, namespace: str) -> None:
            raise PermissionError("catalog refuses")

        def namespace_exists(self, namespace: str) -> bool:
            return False

    with pytest.raises(PermissionError, match="catalog refuses"):
        ensure_namespace(Refusing(), "ks")
