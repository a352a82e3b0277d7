"""Writing and committing a range: its rows streamed into new Parquet data files under the table's
location (unique names per attempt), then ONE transaction that deletes what the range wrote before
and adds the new files, retried on conflicts; far timestamps switch columns to count-only metrics."""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from typing import Any

import pyarrow as pa

from ..events import Listener
from ..io import Storage, StorageOptions
from ..ring import PlannedRange
from ..scan import ScanStats, TableScan
from ..sinks import RangeWriter, SinkOptions
from ..types import to_iceberg_batch
from .options import DATE_COLUMN, RANGE_COLUMN, IcebergCommitFailed, IcebergOptions

log = logging.getLogger(__name__)

# A range's first export deletes nothing, by design; pyiceberg warns about it on every such commit.
# (A catch_warnings block would not do: it is not thread-safe and ranges commit from several threads.)
warnings.filterwarnings("ignore", message="Delete operation did not match any records", category=UserWarning)


def _range_filter(planned: PlannedRange | None, options: IcebergOptions, subset: list[str] | None = None) -> str:
    """The row filter (pyiceberg's expression syntax) selecting what a run replaces."""
    parts = []
    if planned is not None:
        parts.append(f"{RANGE_COLUMN} == '{planned.id}'")
    if subset is not None:
        parts.append(f"{RANGE_COLUMN} IN ({', '.join(repr(r) for r in subset)})")
    if options.mode == "daily":
        parts.append(f"{DATE_COLUMN} == '{options.date.isoformat()}'")
    return " AND ".join(parts) if parts else "true"


def _data_dir(table: Any, planned: PlannedRange, options: IcebergOptions) -> str:
    base = table_location(table) + "/data"
    if options.mode == "daily":
        base += f"/{DATE_COLUMN}={options.date.isoformat()}"
    return f"{base}/{RANGE_COLUMN}={planned.id}"


def table_location(table: Any) -> str:
    """The table's location without a trailing slash, ``file:/x`` (Hadoop's spelling, which Java
    catalogs such as Iceberg's REST server hand out) written ``file:///x`` as a URI is elsewhere."""
    location = str(table.location()).rstrip("/")
    if location.startswith("file:/") and not location.startswith("file://"):
        location = "file://" + location[len("file:") :]
    return location


def _user_partitions(table: Any) -> list[tuple[str, str, Any]]:
    """(partition field name, source column, arrow transform) for the spec's fields beyond ours."""
    schema = table.schema()
    out = []
    for f in table.spec().fields:
        source = schema.find_column_name(f.source_id)
        if source in (RANGE_COLUMN, DATE_COLUMN):
            continue
        out.append((f.name, source, f.transform.pyarrow_transform(schema.find_type(f.source_id))))
    return out


def _split_by_partition(batch: pa.RecordBatch, partitions: list[tuple[str, str, Any]]) -> list[tuple[str, Any]]:
    """Split a batch so every piece holds one value per partition field (``add_files`` needs that)."""
    import pyarrow.compute as pc

    if not partitions:
        return [("", batch)]
    labels = []
    for name, source, transform in partitions:
        values = transform(batch.column(batch.schema.get_field_index(source)))
        text = pc.fill_null(pc.cast(values, pa.string()), "__null__")
        labels.append(pc.binary_join_element_wise(pa.repeat(pa.scalar(f"{name}="), len(batch)), text, ""))
    key = labels[0] if len(labels) == 1 else pc.binary_join_element_wise(*labels, "/")
    return [(str(value), batch.filter(pc.equal(key, value))) for value in pc.unique(key).to_pylist()]


def write_range_files(
    table: Any,
    scan: TableScan,
    planned: PlannedRange,
    options: IcebergOptions,
    target: pa.Schema,
    storage_options: StorageOptions | None,
    events: Listener,
    sink: SinkOptions,
    far_columns: set[str] | None = None,
    attempt: str | None = None,
) -> tuple[list[str], int, int, dict[str, int]]:
    """Stream one range into new Parquet data files; returns (file URIs, rows, bytes, hosts).

    ``far_columns`` collects timestamp columns with values beyond ``datetime`` (see
    :func:`keep_only_counts`).

    With user partition transforms, rows are split so each file holds one partition value. File
    names start with ``attempt`` (12 hex digits; default: a new one), so leftovers can be told apart."""
    from urllib.parse import quote as urlquote

    attempt = attempt or new_attempt()
    base = _data_dir(table, planned, options)
    partitions = _user_partitions(table)
    file_options = SinkOptions(
        format="parquet",
        compression=sink.compression or "zstd",
        max_rows_per_file=sink.max_rows_per_file,
        row_group_size=sink.row_group_size,
    )
    writers: dict[str, tuple[Storage, RangeWriter]] = {}

    def writer_for(label: str) -> RangeWriter:
        if label not in writers:
            path = base if not label else base + "/" + "/".join(urlquote(p, safe="=") for p in label.split("/"))
            storage = Storage(path, storage_options)
            # the attempt id is new: no earlier parts to list for (and S3 Tables' buckets refuse listing)
            writer = RangeWriter(storage, attempt, target, file_options, clean_stale=False)
            writers[label] = (storage, writer)
        return writers[label][1]

    stats = ScanStats()
    constants: dict[str, pa.Scalar] = {RANGE_COLUMN: pa.scalar(planned.id)}
    if options.mode == "daily":
        constants[DATE_COLUMN] = pa.scalar(options.date, pa.date32())
    paths: list[str] = []
    rows = size = 0
    beyond: dict[str, int] = {}
    try:
        for batch in scan.batches(planned, stats):
            for name, value in constants.items():
                batch = batch.append_column(name, pa.repeat(value, batch.num_rows))
            converted = to_iceberg_batch(batch, target, beyond)
            if far_columns is not None:
                far_columns.update(_far_timestamps(converted))
            for label, piece in _split_by_partition(converted, partitions):
                writer_for(label).write(piece)
            events.on_progress(batch.num_rows, batch.nbytes)
        for storage, writer in writers.values():
            parts = writer.close()
            rows += sum(p.rows for p in parts)
            size += sum(p.bytes for p in parts)
            paths += [storage.uri_of(p.path) for p in parts if p.rows]
    except BaseException as exc:
        for _, writer in writers.values():
            writer.abort(exc)
        raise
    if beyond:
        detail = ", ".join(f"{c}: {n}" for c, n in sorted(beyond.items()))
        log.warning(
            "%s: %d timestamp(s) beyond Iceberg's microsecond range (about ±292,000 years) written as null "
            "(%s); Parquet, CSV and JSON exports keep them exactly",
            planned.id,
            sum(beyond.values()),
            detail,
        )
    return paths, rows, size, dict(stats.hosts)


# Timestamps Iceberg's Python stats code can turn into ``datetime`` (years 1-9999), in microseconds.
_DATETIME_US = (-62135596800_000_000, 253402300799_999_999)


def new_attempt() -> str:
    """A range attempt's id: the prefix of its file names."""
    return uuid.uuid4().hex[:12]


def _far_timestamps(batch: pa.RecordBatch) -> set[str]:
    """Top-level timestamp columns holding values outside years 1-9999 (CQL allows any int64 ms)."""
    import pyarrow.compute as pc

    far = set()
    for f, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(f.type) and column.null_count < len(column):
            bounds = pc.min_max(column.cast(pa.int64())).as_py()
            if bounds["min"] < _DATETIME_US[0] or bounds["max"] > _DATETIME_US[1]:
                far.add(f.name)
    return far


def keep_only_counts(catalog: Any, identifier: str, columns: set[str]) -> None:
    """Switch ``columns`` to count-only metrics before committing files that hold far timestamps.

    pyiceberg reads a data file's min/max into Python ``datetime``s, which stop at year 9999, so a
    file with a timestamp beyond that cannot be committed with bounds. The values themselves are
    kept exactly; only min/max pruning on these columns is lost, and that is said once, loudly."""
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(10):
        table = catalog.load_table(identifier)
        wanted = {
            f"write.metadata.metrics.column.{c}": "counts"
            for c in sorted(columns)
            if table.properties.get(f"write.metadata.metrics.column.{c}") != "counts"
        }
        if not wanted:
            return
        try:
            with table.transaction() as tx:
                tx.set_properties(wanted)
        except CommitFailedException:
            time.sleep(0.05 * (attempt + 1))
            continue
        log.warning(
            "Iceberg table %s: column(s) %s hold timestamps outside years 1-9999; they are exported "
            "exactly, but their files keep only value counts (no min/max pruning) from now on",
            identifier,
            ", ".join(sorted(columns)),
        )
        return


def _range_files(table: Any, row_filter: Any) -> set[str]:
    """The data files of the current snapshot that ``row_filter`` (a range, maybe a date) selects."""
    if table.current_snapshot() is None:
        return set()
    return {task.file.file_path for task in table.scan(row_filter=row_filter).plan_files()}


def commit_files(
    catalog: Any,
    identifier: str,
    paths: list[str],
    delete_filter: Any,
    properties: dict[str, str],
    attempts: int,
) -> Any:
    """Replace what ``delete_filter`` selects by ``paths`` in one transaction, retrying conflicts.

    Two processes replacing the same range at once: the loser's commit fails pyiceberg's
    serializable check (``ValidationException: Added data files were found matching the
    filter...``) or finds a file it meant to delete gone (``Missing required files to delete``).
    Neither landed, so it is retried like a conflict: reloaded, its delete now covers the winner's
    files, and the range ends up as exactly one of the two writes.

    A REST catalog answering 500/502/504 (``CommitStateUnknownException``), or a connection lost
    during the request, leaves it unknown whether the commit landed. Retrying blindly would fail
    (the files would already be referenced) or, worse, hide a lost commit; so the next attempt
    first looks: if the range's files are now exactly ``paths``, the commit landed and is done."""
    from pyiceberg.exceptions import CommitFailedException, CommitStateUnknownException, ValidationException
    from requests.exceptions import RequestException
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, (CommitFailedException, ValidationException, CommitStateUnknownException)):
            return True
        # SQLite answers "database is locked" while another process commits.
        return type(exc).__name__ == "OperationalError" and "locked" in str(exc)

    unknown = False

    def once() -> Any:
        nonlocal unknown
        table = catalog.load_table(identifier)
        if unknown and paths and _range_files(table, delete_filter) == set(paths):
            log.warning("%s: the commit whose outcome was unknown had landed", identifier)
            return table
        tx = table.transaction()
        tx.delete(delete_filter, snapshot_properties=properties)
        if paths:
            tx.add_files(paths, snapshot_properties=properties)
        try:
            tx.commit_transaction()
        except RequestException as exc:
            unknown = True
            raise CommitStateUnknownException(f"{type(exc).__name__} during the commit request") from exc
        except CommitStateUnknownException:
            unknown = True
            raise
        return table

    try:
        for attempt in Retrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.05, max=3),
            reraise=True,
        ):
            with attempt:
                return once()
    except Exception as exc:
        raise IcebergCommitFailed(
            f"committing to Iceberg table {identifier} failed: {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError("unreachable")
