"""Export to Apache Iceberg with exactly-once per-range commits (pyiceberg).

How a range lands: its rows are streamed into Parquet data files under the table's location
(new, unique names per attempt, so files that older snapshots still reference are never touched),
then ONE transaction deletes everything the range wrote before (``_cb_range = 'r03-of-16'``, an
identity partition, so the delete drops whole files without rewriting any) and adds the new files.
A concurrent commit from another worker makes ours fail optimistically; we reload the table and
retry with backoff and jitter until it lands. A crash before the commit leaves only unreferenced
files (``remove_orphan_files`` cleans them); a crash after it leaves a complete range.

Modes: ``mirror`` (each range replaces its slice), ``daily`` (rows also carry
``_cb_export_date``; a run replaces only its date's slice of each range), ``single`` (stage every
range, then one commit replaces the whole table, for atomic whole-table exports), ``incremental``
(rows with a cell written since the table's watermark, merged by primary key; deletes in Cassandra
are not seen this way).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import __version__
from .errors import ConfigError
from .events import CompositeListener, Listener, RangeEvent
from .export import ExportFailed, ExportOptions, ExportResult, RangeResult, run_ranges
from .ring import PlannedRange
from .scan import ScanStats, TableScan
from .sinks import PartFile, RangeWriter, SinkOptions
from .storage import Storage, StorageOptions
from .table import TableInfo
from .types import iceberg_schema, to_iceberg_batch

RANGE_COLUMN = "_cb_range"
DATE_COLUMN = "_cb_export_date"
MODES = ("mirror", "daily", "single", "incremental")
WATERMARK = "cassandra-bulk.watermark-us"
PROP_PREFIX = "cassandra-bulk."

# A range's first export deletes nothing, by design; pyiceberg warns about it on every such commit.
# (A catch_warnings block would not do: it is not thread-safe and ranges commit from several threads.)
warnings.filterwarnings("ignore", message="Delete operation did not match any records", category=UserWarning)


class IcebergCommitFailed(ExportFailed):
    pass


@dataclass(frozen=True)
class IcebergOptions:
    """Where and how to write. Empty ``catalog_properties`` means the embedded default: a SQL
    catalog in ``<warehouse>/catalog.db`` (SQLite) with data under ``<warehouse>``."""

    table: str | None = None
    """``namespace.table``; default: the Cassandra ``keyspace.table``."""
    catalog_name: str = "default"
    catalog_properties: Mapping[str, str] = field(default_factory=dict)
    warehouse: str = "warehouse"
    mode: str = "mirror"
    export_date: dt.date | None = None
    """Daily mode: the date the rows are filed under (default: today, UTC)."""
    partition_by: tuple[str, ...] = ()
    """Extra partition transforms for a new table: ``col``, ``year|month|day|hour(col)``,
    ``truncate(N, col)`` (not ``bucket``: see :func:`_parse_transform`)."""
    sort_by: tuple[str, ...] = ()
    table_properties: Mapping[str, str] = field(default_factory=dict)
    commit_attempts: int = 60

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown Iceberg export mode {self.mode!r}; one of {', '.join(MODES)}")

    @property
    def date(self) -> dt.date:
        return self.export_date or dt.datetime.now(dt.timezone.utc).date()


def load_catalog(options: IcebergOptions) -> Any:
    """The configured catalog, or the embedded SQLite one (created on first use)."""
    from pyiceberg.catalog import load_catalog as _load

    props = dict(options.catalog_properties)
    if not props:
        warehouse = Path(options.warehouse).absolute()
        warehouse.mkdir(parents=True, exist_ok=True)
        props = {"type": "sql", "uri": f"sqlite:///{warehouse / 'catalog.db'}", "warehouse": warehouse.as_uri()}
    return _load(options.catalog_name, **props)


def storage_options_from_catalog(props: Mapping[str, str]) -> StorageOptions | None:
    """Reuse the catalog's S3 settings (pyiceberg's ``s3.*`` keys) for writing data files."""
    if not any(k.startswith("s3.") for k in props):
        return None
    return StorageOptions(
        s3_endpoint_url=props.get("s3.endpoint"),
        s3_region=props.get("s3.region"),
        s3_access_key_id=props.get("s3.access-key-id"),
        s3_secret_access_key=props.get("s3.secret-access-key"),
        s3_session_token=props.get("s3.session-token"),
    )


def _identifier(info: TableInfo, options: IcebergOptions) -> str:
    return options.table or f"{info.keyspace}.{info.table}"


def target_arrow_schema(scan: TableScan, options: IcebergOptions) -> pa.Schema:
    schema = iceberg_schema(scan.schema)
    schema = schema.append(
        pa.field(RANGE_COLUMN, pa.string(), nullable=False, metadata={b"doc": b"cassandra-bulk token range id"})
    )
    if options.mode == "daily":
        schema = schema.append(
            pa.field(DATE_COLUMN, pa.date32(), nullable=False, metadata={b"doc": b"cassandra-bulk export date"})
        )
    return schema


def _parse_transform(text: str) -> tuple[str, Any, str]:
    """``bucket(16, id)`` → (source column, transform, partition field name)."""
    from pyiceberg.transforms import (
        DayTransform,
        HourTransform,
        IdentityTransform,
        MonthTransform,
        TruncateTransform,
        YearTransform,
    )

    text = text.strip()
    if "(" not in text:
        return text, IdentityTransform(), text
    name, _, rest = text.partition("(")
    args = [a.strip() for a in rest.rstrip(")").split(",")]
    simple: dict[str, Any] = {
        "year": YearTransform,
        "month": MonthTransform,
        "day": DayTransform,
        "hour": HourTransform,
    }
    if name in simple and len(args) == 1:
        return args[0], simple[name](), f"{args[0]}_{name}"
    if name == "bucket":
        # pyiceberg's add_files infers a file's partition from its column bounds, which a hash can't
        # do ("non-linear" transform); our files are registered with add_files.
        raise ConfigError(
            f"partition transform {text!r}: bucket(N, col) is not supported yet; use col, "
            "truncate(N, col) or year|month|day|hour(col)"
        )
    if name == "truncate" and len(args) == 2 and args[0].isdigit():
        return args[1], TruncateTransform(int(args[0])), f"{args[1]}_{name}"
    raise ConfigError(
        f"cannot read partition transform {text!r}: use col, year|month|day|hour(col), bucket(N, col) "
        "or truncate(N, col)"
    )


def ensure_table(catalog: Any, info: TableInfo, scan: TableScan, options: IcebergOptions) -> Any:
    """Create the table (and namespace) from the Cassandra schema, or evolve an existing one.

    New Cassandra columns are added; columns no longer in Cassandra stay (nullable, unfilled); a
    type change Iceberg cannot make fails here, before any data is written."""
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError

    identifier = _identifier(info, options)
    namespace = identifier.rsplit(".", 1)[0]
    catalog.create_namespace_if_not_exists(namespace)
    target = target_arrow_schema(scan, options)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        table = None
    if table is None:
        properties = {
            "write.format.default": "parquet",
            "write.parquet.compression-codec": "zstd",
            f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
            f"{PROP_PREFIX}mode": options.mode,
            **options.table_properties,
        }
        try:
            tx = catalog.create_table_transaction(identifier, schema=target, properties=properties)
            with tx.update_spec() as spec:
                if options.mode == "daily":
                    spec.add_identity(DATE_COLUMN)
                spec.add_identity(RANGE_COLUMN)
                for text in options.partition_by:
                    source, transform, name = _parse_transform(text)
                    spec.add_field(source, transform, name)
            with tx.update_schema() as update:
                keys = [*info.partition_key, *info.clustering_key]
                if options.mode == "daily":
                    keys.append(DATE_COLUMN)
                update.set_identifier_fields(*keys)
            if options.sort_by:
                from pyiceberg.transforms import IdentityTransform

                with tx.update_sort_order() as order:
                    for col in options.sort_by:
                        order.asc(col.strip(), IdentityTransform())
            metrics = _date_metrics_properties(tx.table_metadata.schema())
            if metrics:
                tx.set_properties(metrics)
            tx.commit_transaction()
        except (TableAlreadyExistsError, CommitFailedException):
            pass  # another worker created it first: fine, use theirs
        table = catalog.load_table(identifier)
    return _evolve(table, target, identifier, options)


def _date_metrics_properties(schema: Any) -> dict[str, str]:
    """Keep only counts (no min/max) for date columns: a CQL date spans ±5.8 million years and
    pyiceberg turns Parquet bounds into Python dates (years 1-9999), so bounds of far dates would fail
    the commit. Those columns lose file pruning by value; everything else keeps full metrics."""
    from pyiceberg.schema import index_by_id
    from pyiceberg.types import DateType

    return {
        f"write.metadata.metrics.column.{schema.find_column_name(field_id)}": "counts"
        for field_id, field in index_by_id(schema).items()
        if isinstance(field.field_type, DateType) and field.name != DATE_COLUMN  # the partition needs bounds
    }


def _evolve(table: Any, target: pa.Schema, identifier: str, options: IcebergOptions) -> Any:
    from pyiceberg.exceptions import CommitFailedException

    current = table.schema().as_arrow()
    have = {f.name: f for f in current}
    if options.mode == "daily" and DATE_COLUMN not in have:
        raise ConfigError(f"Iceberg table {identifier} was not created in daily mode (no {DATE_COLUMN} column)")
    problems = []
    for f in target:
        old = have.get(f.name)
        if old is not None and not _compatible(old.type, f.type):
            problems.append(f"{f.name}: Iceberg {old.type}, Cassandra now {f.type}")
    if problems:
        raise ConfigError(
            f"Cassandra column types changed incompatibly for Iceberg table {identifier}: " + "; ".join(problems)
        )
    missing = [f for f in target if f.name not in have]
    if not missing:
        return table
    for _ in range(10):
        try:
            with table.transaction() as tx:
                with tx.update_schema() as update:
                    update.union_by_name(pa.schema([f.with_nullable(True) for f in missing]))
                metrics = _date_metrics_properties(tx.table_metadata.schema())
                if metrics:
                    tx.set_properties(metrics)
            break
        except CommitFailedException:
            table = table.refresh() if hasattr(table, "refresh") else table
    return table


def _compatible(old: pa.DataType, new: pa.DataType) -> bool:
    if old == new:
        return True
    if isinstance(old, pa.BaseExtensionType) or isinstance(new, pa.BaseExtensionType):
        return str(old) == str(new)
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        return old.bit_width >= new.bit_width
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return old.bit_width >= new.bit_width
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return True
    for same in ((pa.types.is_string, pa.types.is_large_string), (pa.types.is_binary, pa.types.is_large_binary)):
        if any(f(old) for f in same) and any(f(new) for f in same):
            return True
    nested = (pa.types.is_list(old) or pa.types.is_large_list(old)) and (
        pa.types.is_list(new) or pa.types.is_large_list(new)
    )
    if nested:
        return _compatible(old.value_type, new.value_type)
    if pa.types.is_map(old) and pa.types.is_map(new):
        return _compatible(old.key_type, new.key_type) and _compatible(old.item_type, new.item_type)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        olds = {f.name: f.type for f in old}
        return all(f.name not in olds or _compatible(olds[f.name], f.type) for f in new)
    return False


# -- writing and committing ----------------------------------------------------------------------


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
    base = table.location().rstrip("/") + "/data"
    if options.mode == "daily":
        base += f"/{DATE_COLUMN}={options.date.isoformat()}"
    return f"{base}/{RANGE_COLUMN}={planned.id}"


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
) -> tuple[list[str], int, int, dict[str, int]]:
    """Stream one range into new Parquet data files; returns (file URIs, rows, bytes, hosts).

    With user partition transforms, rows are split so each file holds one partition value."""
    from urllib.parse import quote as urlquote

    attempt = uuid.uuid4().hex[:12]
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
            writers[label] = (storage, RangeWriter(storage, attempt, target, file_options))
        return writers[label][1]

    stats = ScanStats()
    constants: dict[str, pa.Scalar] = {RANGE_COLUMN: pa.scalar(planned.id)}
    if options.mode == "daily":
        constants[DATE_COLUMN] = pa.scalar(options.date, pa.date32())
    paths: list[str] = []
    rows = size = 0
    try:
        for batch in scan.batches(planned, stats):
            for name, value in constants.items():
                batch = batch.append_column(name, pa.repeat(value, batch.num_rows))
            for label, piece in _split_by_partition(to_iceberg_batch(batch, target), partitions):
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
    return paths, rows, size, dict(stats.hosts)


def commit_files(
    catalog: Any,
    identifier: str,
    paths: list[str],
    delete_filter: Any,
    properties: dict[str, str],
    attempts: int,
) -> Any:
    """Replace what ``delete_filter`` selects by ``paths`` in one transaction, retrying conflicts."""
    from pyiceberg.exceptions import CommitFailedException
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, CommitFailedException):
            return True
        # SQLite answers "database is locked" while another process commits.
        return type(exc).__name__ == "OperationalError" and "locked" in str(exc)

    def once() -> Any:
        table = catalog.load_table(identifier)
        tx = table.transaction()
        tx.delete(delete_filter, snapshot_properties=properties)
        if paths:
            tx.add_files(paths, snapshot_properties=properties)
        tx.commit_transaction()
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


def export_to_iceberg(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: ExportOptions,
    iceberg: IcebergOptions,
    listener: Listener | None = None,
    operation_id: str | None = None,
    catalog: Any = None,
) -> ExportResult:
    """Export the planned ranges (or ``options.only_ranges``) into an Iceberg table."""
    operation_id = operation_id or uuid.uuid4().hex[:12]
    events = CompositeListener([listener] if listener else [])
    catalog = catalog or load_catalog(iceberg)
    identifier = _identifier(info, iceberg)
    scan = TableScan(cluster, session, info, options.scan)
    table = ensure_table(catalog, info, scan, iceberg)
    if iceberg.mode == "incremental":
        return _export_incremental(cluster, session, info, options, iceberg, catalog, table, events, operation_id)
    target = _file_schema(table, target_arrow_schema(scan, iceberg))
    storage_options = options.storage or storage_options_from_catalog(iceberg.catalog_properties)
    plan = options.plan()
    started = time.monotonic()
    events.on_start(
        operation_id,
        len(plan),
        {"table": f"{info.keyspace}.{info.table}", "destination": f"iceberg:{identifier}", "mode": iceberg.mode},
    )
    base_props = {
        f"{PROP_PREFIX}operation-id": operation_id,
        f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
        f"{PROP_PREFIX}version": __version__,
        f"{PROP_PREFIX}mode": iceberg.mode,
    }
    if iceberg.mode == "daily":
        base_props[f"{PROP_PREFIX}export-date"] = iceberg.date.isoformat()

    def one(planned: PlannedRange) -> tuple[RangeResult, list[str]]:
        events.on_range_started(RangeEvent(operation_id, planned.id))
        t0 = time.monotonic()
        try:
            paths, rows, size, hosts = write_range_files(
                table, scan, planned, iceberg, target, storage_options, events, options.sink
            )
            if iceberg.mode != "single":
                props = {**base_props, f"{PROP_PREFIX}ranges": planned.id, f"{PROP_PREFIX}rows": str(rows)}
                commit_files(
                    catalog, identifier, paths, _range_filter(planned, iceberg), props, iceberg.commit_attempts
                )
        except BaseException as exc:
            events.on_range_failed(RangeEvent(operation_id, planned.id, error=str(exc)))
            raise
        files = [PartFile(p, 0, 0) for p in paths]
        result = RangeResult(planned, rows, size, files, time.monotonic() - t0, hosts=hosts)
        events.on_range_finished(RangeEvent(operation_id, planned.id, rows, size, len(paths), result.seconds))
        return result, paths

    done, failures = run_ranges(plan, one, options.range_workers, "iceberg")
    results = [result for result, _ in done]
    staged = [path for _, paths in done for path in paths]
    summary_result = ExportResult(
        operation_id, info.keyspace, info.table, f"iceberg:{identifier}", results, time.monotonic() - started
    )
    if failures:
        events.on_finish({**summary_result.summary(), "failed_ranges": len(failures)})
        raise IcebergCommitFailed(
            f"{len(failures)} of {len(plan)} range(s) failed; committed ranges stay, re-run the failed ones. "
            f"First error: {failures[0]}"
        ) from failures[0]
    if iceberg.mode == "single":
        # One atomic replace of everything this run covers (the whole table, or the chosen ranges).
        props = {
            **base_props,
            f"{PROP_PREFIX}ranges": f"{len(plan)} ranges",
            f"{PROP_PREFIX}rows": str(summary_result.rows),
        }
        subset = None if options.only_ranges is None else [r.id for r in plan]
        delete = _range_filter(None, iceberg, subset)
        commit_files(catalog, identifier, staged, delete, props, iceberg.commit_attempts)
    events.on_finish(summary_result.summary())
    return summary_result


def _export_incremental(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: ExportOptions,
    iceberg: IcebergOptions,
    catalog: Any,
    table: Any,
    events: CompositeListener,
    operation_id: str,
) -> ExportResult:
    """Merge rows written since the watermark into the table by primary key, range by range.

    The first run (no watermark yet) is a full mirror export. Each later run reads only rows with a
    cell written at or after the watermark (a client-side writetime filter, so every row is still
    scanned) and upserts them; the new watermark is this run's start, set once every range landed.
    A row deleted in Cassandra leaves no writetime to see, so it stays in Iceberg."""
    from dataclasses import replace

    from pyiceberg.exceptions import CommitFailedException
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

    identifier = _identifier(info, iceberg)
    started_us = int(time.time() * 1_000_000)
    watermark = table.properties.get(WATERMARK)
    if watermark is None:
        result = export_to_iceberg(
            cluster, session, info, options, replace(iceberg, mode="mirror"), events, operation_id, catalog
        )
    else:
        scan = TableScan(cluster, session, info, replace(options.scan, written_after=int(watermark)))
        target = _file_schema(table, target_arrow_schema(scan, replace(iceberg, mode="mirror")))
        keys = [*info.partition_key, *info.clustering_key]
        plan = options.plan()
        started = time.monotonic()
        events.on_start(
            operation_id,
            len(plan),
            {"table": f"{info.keyspace}.{info.table}", "destination": f"iceberg:{identifier}", "mode": "incremental"},
        )
        results = []
        for planned in plan:
            events.on_range_started(RangeEvent(operation_id, planned.id))
            t0 = time.monotonic()
            stats = ScanStats()
            batches = []
            for batch in scan.batches(planned, stats):
                batch = batch.append_column(RANGE_COLUMN, pa.repeat(pa.scalar(planned.id), batch.num_rows))
                batches.append(to_iceberg_batch(batch, target))
                events.on_progress(batch.num_rows, batch.nbytes)
            delta = pa.Table.from_batches(batches, schema=target)
            if delta.num_rows:
                props = {
                    f"{PROP_PREFIX}operation-id": operation_id,
                    f"{PROP_PREFIX}ranges": planned.id,
                    f"{PROP_PREFIX}rows": str(delta.num_rows),
                    f"{PROP_PREFIX}mode": "incremental",
                    f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
                    f"{PROP_PREFIX}version": __version__,
                }
                for attempt in Retrying(
                    retry=retry_if_exception_type(CommitFailedException),
                    stop=stop_after_attempt(iceberg.commit_attempts),
                    wait=wait_random_exponential(multiplier=0.05, max=3),
                    reraise=True,
                ):
                    with attempt:
                        catalog.load_table(identifier).upsert(delta, join_cols=keys, snapshot_properties=props)
            done = RangeResult(
                planned, delta.num_rows, delta.nbytes, [], time.monotonic() - t0, hosts=dict(stats.hosts)
            )
            results.append(done)
            events.on_range_finished(RangeEvent(operation_id, planned.id, done.rows, done.bytes, 0, done.seconds))
        result = ExportResult(
            operation_id, info.keyspace, info.table, f"iceberg:{identifier}", results, time.monotonic() - started
        )
        events.on_finish(result.summary())
    if options.only_ranges is None:  # a partial run must not move the whole table's watermark
        for attempt in Retrying(
            retry=retry_if_exception_type(CommitFailedException),
            stop=stop_after_attempt(iceberg.commit_attempts),
            wait=wait_random_exponential(multiplier=0.05, max=3),
            reraise=True,
        ):
            with attempt, catalog.load_table(identifier).transaction() as tx:
                tx.set_properties({WATERMARK: str(started_us)})
    return result


def _file_schema(table: Any, target: pa.Schema) -> pa.Schema:
    """Data files hold the Cassandra columns in the table's types (Iceberg may have widened some)."""
    current = {f.name: f for f in table.schema().as_arrow()}
    fields = []
    for f in target:
        have = current.get(f.name)
        fields.append(f if have is None or have.type == f.type else pa.field(f.name, have.type, f.nullable, f.metadata))
    return pa.schema(fields)


# -- verify and housekeeping ---------------------------------------------------------------------


@dataclass
class VerifyResult:
    per_range: dict[str, tuple[int, int]]
    """range id → (rows in Cassandra, rows in Iceberg)."""

    @property
    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {r: (c, i) for r, (c, i) in self.per_range.items() if c != i}

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cassandra_rows": sum(c for c, _ in self.per_range.values()),
            "iceberg_rows": sum(i for _, i in self.per_range.values()),
            "mismatches": {r: {"cassandra": c, "iceberg": i} for r, (c, i) in self.mismatches.items()},
        }


def iceberg_range_counts(table: Any, export_date: dt.date | None = None) -> dict[str, int]:
    """Rows per range from the table's partition metadata (no data file is read)."""
    counts: dict[str, int] = {}
    for row in table.inspect.partitions().to_pylist():
        part = row["partition"]
        if export_date is not None and part.get(DATE_COLUMN) != export_date:
            continue
        rid = part.get(RANGE_COLUMN)
        if rid is not None:
            counts[rid] = counts.get(rid, 0) + int(row["record_count"])
    return counts


def verify(
    cluster: Any,
    session: Any,
    info: TableInfo,
    table: Any,
    plan: list[PlannedRange],
    export_date: dt.date | None = None,
    concurrency: int = 8,
) -> VerifyResult:
    """Per-range row counts in Cassandra against the Iceberg table's per-range record counts."""
    from .count import count_table

    cassandra = count_table(cluster, session, info, plan, concurrency=concurrency).per_range
    iceberg = iceberg_range_counts(table, export_date)
    return VerifyResult({r.id: (cassandra.get(r.id, 0), iceberg.get(r.id, 0)) for r in plan})


def operation_snapshot_id(table: Any, operation_id: str) -> int | None:
    """The newest snapshot an export operation committed (other writers may have committed since);
    orchestrators report it as the materialization's snapshot."""
    ours = [
        s
        for s in table.snapshots()
        if s.summary is not None and s.summary.get(f"{PROP_PREFIX}operation-id") == operation_id
    ]
    return max(ours, key=lambda s: s.timestamp_ms).snapshot_id if ours else None


def referenced_files(table: Any) -> set[str]:
    """Every data file any snapshot still references (time travel must keep working)."""
    # Read the manifests directly: pyiceberg's inspect.all_data_files() cannot build its metrics
    # table for uuid columns (ArrowNotImplementedError: extension).
    paths: set[str] = set()
    seen: set[str] = set()
    for snapshot in table.snapshots():
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                paths.add(entry.data_file.file_path)
    return paths


def remove_orphan_files(
    table: Any,
    storage_options: StorageOptions | None = None,
    older_than: dt.timedelta = dt.timedelta(hours=1),
    dry_run: bool = False,
) -> list[str]:
    """Delete data files under the table's ``data/`` that no snapshot references and that are older
    than ``older_than`` (so a range still writing its files is left alone). Returns their URIs."""
    storage = Storage(table.location().rstrip("/") + "/data", storage_options)
    keep = {_normalize(p) for p in referenced_files(table)}
    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    removed = []
    for rel in storage.list():
        uri = storage.uri_of(rel)
        if _normalize(uri) in keep or not rel.endswith(".parquet"):
            continue
        info = storage.fs.get_file_info(storage.root.rstrip("/") + "/" + rel)
        mtime = info.mtime
        if mtime is not None and mtime.replace(tzinfo=mtime.tzinfo or dt.timezone.utc) > cutoff:
            continue
        if not dry_run:
            storage.delete(rel)
        removed.append(uri)
    return removed


def expire_snapshots(table: Any, older_than: dt.timedelta) -> int:
    """Expire snapshots older than ``older_than`` (the current one always stays); returns how many."""
    cutoff_ms = int((dt.datetime.now(dt.timezone.utc) - older_than).timestamp() * 1000)
    current = table.current_snapshot()
    old = [
        s
        for s in table.snapshots()
        if s.timestamp_ms < cutoff_ms and (current is None or s.snapshot_id != current.snapshot_id)
    ]
    if old:
        table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in old]).commit()
    return len(old)


def _normalize(uri: str) -> str:
    return uri.removeprefix("file://")
