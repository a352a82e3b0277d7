"""Arrow sources: Parquet files and Iceberg tables, converted by casts that refuse lossy conversions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..types import conform_column
from .base import Chunk, FileSet, Target, _assemble, _unreadable

# -- Arrow sources: Parquet files, Iceberg tables ------------------------------------------------------


def _row_json(batch: pa.RecordBatch, i: int) -> str:
    """One source record as JSON for a reject file. Values Python cannot hold (nanosecond times,
    timestamps outside years 1-9999) are shown as Arrow's own text for them, never a crash."""
    one = batch.slice(i, 1)
    try:
        row = one.to_pylist()[0]
    except (ValueError, OverflowError, pa.ArrowException):
        row = {}
        for f, col in zip(one.schema, one.columns, strict=True):
            try:
                row[f.name] = col.to_pylist()[0]
            except (ValueError, OverflowError, pa.ArrowException):
                try:
                    row[f.name] = col.cast(pa.string()).to_pylist()[0]
                except pa.ArrowException:
                    row[f.name] = f"<{f.type}>"
    return json.dumps(row, default=_json_default, ensure_ascii=False)


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode()
    return str(v)


def arrow_chunks(
    resource: str,
    batches: Iterator[pa.RecordBatch],
    targets: Sequence[Target],
    skip: Callable[[int, int], bool],
) -> Iterator[Chunk]:
    """Typed batches (Parquet, Iceberg) to chunks: each column cast to its canonical type; a
    value the cast refuses (out of range, lost precision) rejects its row, shown as JSON."""
    position = 0
    for batch in batches:
        n = batch.num_rows
        first, end = position, position + n
        position = end
        if n == 0 or skip(first, end):
            continue
        names = batch.schema.names
        columns, errors = [], []
        for t in targets:
            col, errs = conform_column(batch.column(names.index(t.source)), t.field)
            columns.append(col)
            errors.append(errs)

        def raw(i: int, _b: pa.RecordBatch = batch) -> str:
            return _row_json(_b, i)

        yield _assemble(resource, first, end, list(range(first, end)), columns, errors, targets, raw, [], batch.nbytes)


def parquet_schema(files: FileSet) -> pa.Schema:
    import pyarrow.parquet as pq

    assert files.storage is not None
    try:
        with files.storage.open_input(files.files[0]) as f:
            return pq.ParquetFile(f).schema_arrow
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(files.name(files.files[0]), exc) from None


def read_parquet_chunks(
    files: FileSet, rel: str, targets: Sequence[Target], skip: Callable[[int, int], bool], batch_rows: int = 16_384
) -> Iterator[Chunk]:
    """Stream one Parquet file by record batches (bounded memory: one row group's columns at most)."""
    import pyarrow.parquet as pq

    assert files.storage is not None
    resource = files.name(rel)
    try:
        f = files.storage.open_input(rel)
        pf = pq.ParquetFile(f)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(resource, exc) from None
    with f:
        columns = sorted({t.source for t in targets})
        batches = _guarded(resource, pf.iter_batches(batch_size=batch_rows, columns=columns))
        yield from arrow_chunks(resource, batches, targets, skip)


def _guarded(resource: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches of a file, a read error (a truncated or corrupt file) named after the file."""
    try:
        yield from batches
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(resource, exc) from None


@dataclass(frozen=True)
class IcebergSource:
    """An Iceberg table to load from, as of a snapshot or a point in time, optionally filtered."""

    table: str
    catalog_name: str = "default"
    catalog_properties: Mapping[str, str] = field(default_factory=dict)
    warehouse: str = "warehouse"
    snapshot_id: int | None = None
    as_of: int | None = None
    """Epoch milliseconds: the snapshot current at that time."""
    row_filter: str | None = None
    columns: tuple[str, ...] | None = None

    def open(self) -> Any:
        from ..iceberg import IcebergOptions, load_catalog

        catalog = load_catalog(
            IcebergOptions(
                catalog_name=self.catalog_name, catalog_properties=self.catalog_properties, warehouse=self.warehouse
            )
        )
        try:
            return catalog.load_table(self.table)
        except Exception as exc:
            raise ConfigError(f"Iceberg table {self.table!r} cannot be loaded: {str(exc).splitlines()[0]}") from None

    def snapshot(self, table: Any) -> int | None:
        if self.snapshot_id is not None:
            if table.snapshot_by_id(self.snapshot_id) is None:
                raise ConfigError(f"Iceberg table {self.table} has no snapshot {self.snapshot_id}")
            return self.snapshot_id
        if self.as_of is not None:
            snap = table.snapshot_as_of_timestamp(self.as_of)
            if snap is None:
                raise ConfigError(f"Iceberg table {self.table} has no snapshot at or before {self.as_of} ms")
            return int(snap.snapshot_id)
        current = table.current_snapshot()
        return None if current is None else int(current.snapshot_id)


def read_iceberg_chunks(
    table: Any,
    source: IcebergSource,
    snapshot_id: int | None,
    targets: Sequence[Target],
    row_filter: str | None,
    skip: Callable[[int, int], bool],
) -> Iterator[Chunk]:
    """Stream the table's rows (pyiceberg's batch reader: one data file at a time)."""
    if snapshot_id is None:
        return
    columns = tuple(sorted({t.source for t in targets}))
    scan = table.scan(
        row_filter=row_filter or "True" if row_filter else _always_true(),
        selected_fields=columns,
        snapshot_id=snapshot_id,
    )
    reader = scan.to_arrow_batch_reader()
    yield from arrow_chunks(f"iceberg:{source.table}@{snapshot_id}", iter(reader), targets, skip)


def _always_true() -> Any:
    from pyiceberg.expressions import AlwaysTrue

    return AlwaysTrue()
