"""A commit whose outcome is unknown (a REST catalog's 500/502/504, a lost connection) is looked up
before it is retried: landed means done, not landed means committed again, never twice.

The catalog is a real SQLite catalog whose ``commit_table`` is made to fail the way a REST catalog
does, either after the commit went through or before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitStateUnknownException

from cassandra_bulk_core.iceberg.commit import commit_files


class FlakyCatalog(SqlCatalog):
    """Fails the next ``commit_table`` with ``error``, after (``landed``) or before committing."""

    error: BaseException | None = None
    landed = True
    commits = 0

    def commit_table(self, *args: Any, **kwargs: Any) -> Any:
        error, self.error = self.error, None
        if error is not None and not self.landed:
            raise error
        result = super().commit_table(*args, **kwargs)
        self.commits += 1
        if error is not None:
            raise error
        return result


def _setup(tmp_path: Path) -> tuple[FlakyCatalog, list[str]]:
    catalog = FlakyCatalog("flaky", uri=f"sqlite:///{tmp_path / 'c.db'}", warehouse=tmp_path.as_uri())
    catalog.create_namespace("ns")
    schema = pa.schema([pa.field("_cb_range", pa.string()), pa.field("v", pa.int64())])
    table = catalog.create_table("ns.t", schema=schema)
    with table.update_spec() as spec:
        spec.add_identity("_cb_range")
    paths = []
    for i in range(2):
        path = tmp_path / f"f{i}.parquet"
        pq.write_table(pa.table({"_cb_range": ["r0"] * 3, "v": [i * 10 + j for j in range(3)]}, schema=schema), path)
        paths.append(path.as_uri())
    return catalog, paths


@pytest.mark.parametrize(
    "error",
    [CommitStateUnknownException("502 Bad Gateway"), requests.exceptions.ConnectionError("connection reset")],
)
@pytest.mark.parametrize("landed", [True, False])
def test_unknown_commit_outcome_is_looked_up_before_retrying(tmp_path: Path, error: Exception, landed: bool) -> None:
    catalog, paths = _setup(tmp_path)
    catalog.error, catalog.landed, catalog.commits = error, landed, 0
    commit_files(catalog, "ns.t", paths, "_cb_range == 'r0'", {"cassandra-bulk.ranges": "r0"}, attempts=5)
    table = catalog.load_table("ns.t")
    assert sorted(table.scan().to_arrow().column("v").to_pylist()) == [0, 1, 2, 10, 11, 12]
    assert catalog.commits == 1  # landed: found, not redone; not landed: committed once by the retry
    assert catalog.error is None
