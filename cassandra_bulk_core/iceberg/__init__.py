"""Export to Apache Iceberg with exactly-once per-range commits (pyiceberg).

How a range lands: its rows are streamed into Parquet data files under the table's location
(new, unique names per attempt, so files that older snapshots still reference are never touched),
then ONE transaction deletes everything the range wrote before (``_cb_range = 'r03-of-16'``, an
identity partition, so the delete drops whole files without rewriting any) and adds the new files.
A concurrent commit from another worker makes ours fail optimistically; we reload the table and
retry with backoff and jitter until it lands. A crash before the commit leaves only unreferenced
files (``remove_orphan_files`` cleans them); a crash after it leaves a complete range.

| module | holds |
|---|---|
| ``options.py`` | :class:`IcebergOptions`, the modes, the ``_cb_*`` column and property names |
| ``catalog.py`` | opening the catalog, namespace + table creation (race-tolerant), partition transforms |
| ``catalog_config.py`` | catalog properties: ``.pyiceberg.yaml`` / ``PYICEBERG_CATALOG__*``, then explicit |
| ``schema.py`` | target schema, identifier fields, date metrics, schema evolution |
| ``commit.py`` | one range's data files, far-timestamp metrics, the per-range replace commit |
| ``export.py`` | :func:`export_to_iceberg` (mirror, daily, single) and incremental upserts |
| ``verification.py`` | :func:`verify` (per-range counts), :func:`operation_snapshot_id` |
| ``maintenance.py`` | snapshot expiry, orphan file removal |

(``verification.py``, not ``verify.py``: a submodule named like the :func:`verify` function it holds
would be shadowed by it on the package.)
"""

from .catalog import catalog_properties, ensure_namespace, ensure_table, load_catalog, storage_options_from_catalog
from .commit import commit_files, keep_only_counts, write_range_files
from .export import export_to_iceberg
from .maintenance import expire_snapshots, referenced_files, remove_orphan_files
from .options import (
    DATE_COLUMN,
    MODES,
    PROP_PREFIX,
    RANGE_COLUMN,
    WATERMARK,
    IcebergCommitFailed,
    IcebergOptions,
)
from .schema import identifier_columns, target_arrow_schema
from .verification import VerifyResult, iceberg_range_counts, operation_snapshot_id, verify

__all__ = [
    "DATE_COLUMN",
    "MODES",
    "PROP_PREFIX",
    "RANGE_COLUMN",
    "WATERMARK",
    "IcebergCommitFailed",
    "IcebergOptions",
    "VerifyResult",
    "catalog_properties",
    "commit_files",
    "ensure_namespace",
    "ensure_table",
    "expire_snapshots",
    "export_to_iceberg",
    "iceberg_range_counts",
    "identifier_columns",
    "keep_only_counts",
    "load_catalog",
    "operation_snapshot_id",
    "referenced_files",
    "remove_orphan_files",
    "storage_options_from_catalog",
    "target_arrow_schema",
    "verify",
    "write_range_files",
]
