"""Operators: thin translations of Airflow arguments and context into engine calls.

Each token range is one mapped task instance::

    plan = CassandraRangePlanOperator(task_id="plan", splits=16)
    export = CassandraToIcebergOperator.partial(task_id="export", table="ks.tbl", warehouse=...).expand(
        range_id=plan.output
    )
    plan >> export >> CassandraIcebergVerifyOperator(task_id="verify", table="ks.tbl", splits=16, ...)

No I/O happens in ``__init__`` (DAG parse); the Cassandra connection is opened in ``execute`` and
shut down afterwards (or by ``on_kill``, which stops in-flight queries). XCom values are small dicts
of counts and ids, never connection settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook
from airflow_provider_cassandra_bulk.ranges import DEFAULT_MAX_MAP_LENGTH, label, plan_descriptors, resolve_ranges
from cassandra_bulk_core.events import Listener, RangeEvent

try:  # Airflow 3 Task SDK
    from airflow.sdk import Asset, BaseOperator
    from airflow.sdk.exceptions import AirflowException
except ImportError:  # pragma: no cover - Airflow 2
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef,unused-ignore]
    from airflow.exceptions import AirflowException  # type: ignore[no-redef,unused-ignore]
    from airflow.models import BaseOperator  # type: ignore[no-redef,unused-ignore]

RANGE_CONTEXT_KEY = "cassandra_bulk_range"
"""Set in the task context by the export operators: use ``map_index_template="{{ cassandra_bulk_range }}"``."""


def iceberg_asset(table: str, catalog_name: str = "default") -> Any:
    """The Airflow Asset for an Iceberg table ``namespace.table``: ``iceberg://<catalog>/<ns>/<table>``."""
    namespace, _, name = table.rpartition(".")
    return Asset(f"iceberg://{catalog_name}/{namespace or 'default'}/{name}")


class TaskLogListener(Listener):
    """Engine events → the task log (one line per range, plus start and finish)."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        details = " ".join(f"{k}={v}" for k, v in info.items())
        self.log.info("cassandra-bulk %s started: %d range(s) %s", operation_id, total_ranges, details)

    def on_range_finished(self, event: RangeEvent) -> None:
        what = "skipped (already done)" if event.skipped else "finished"
        self.log.info(
            "range %s %s: %d rows, %d bytes, %d file(s) in %.1fs",
            event.range_id,
            what,
            event.rows,
            event.bytes,
            event.files,
            event.seconds,
        )

    def on_range_failed(self, event: RangeEvent) -> None:
        self.log.error("range %s failed after %d rows: %s", event.range_id, event.rows, event.error)

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.log.info("cassandra-bulk finished: %s", summary)


class CassandraRangePlanOperator(BaseOperator):
    """Return the stable range plan as JSON-safe descriptors for ``.expand(range_id=...)``.

    ``[{"range_id": "r03-of-16", "start": "<token>", "end": "<token>"}, ...]``: it depends only on
    ``splits`` (no Cassandra query), so a re-run yields the same list and map indexes keep their
    meaning. With more ranges than ``max_map_length``, consecutive ranges are grouped per descriptor.
    """

    template_fields: Sequence[str] = ("splits",)

    def __init__(self, *, splits: int | str = 16, max_map_length: int | None = DEFAULT_MAX_MAP_LENGTH, **kwargs: Any):
        super().__init__(**kwargs)
        self.splits = splits
        self.max_map_length = max_map_length

    def execute(self, context: Any) -> list[dict[str, str]]:
        plan = plan_descriptors(int(self.splits), self.max_map_length)
        self.log.info("planned %s ranges in %d task(s)", self.splits, len(plan))
        return plan


class _CassandraBulkOperator(BaseOperator):
    """Shared arguments: which table, which connection, how to scan."""

    def __init__(
        self,
        *,
        table: str,
        keyspace: str | None = None,
        cassandra_conn_id: str = CassandraBulkHook.default_conn_name,
        splits: int | str = 16,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        streams: int = 4,
        range_workers: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.keyspace = keyspace
        self.cassandra_conn_id = cassandra_conn_id
        self.splits = splits
        self.columns = columns
        self.page_size = page_size
        self.streams = streams
        self.range_workers = range_workers
        self._hook: CassandraBulkHook | None = None

    @property
    def hook(self) -> CassandraBulkHook:
        if self._hook is None:
            self._hook = CassandraBulkHook(cassandra_conn_id=self.cassandra_conn_id)
        return self._hook

    def _resolve(self) -> Any:
        """Connect and resolve the table; returns ``(cluster, session, TableInfo)``."""
        from cassandra_bulk_core.table import parse_qualified, resolve_table

        ks, tbl = parse_qualified(self.table, self.keyspace or self.hook.default_keyspace)
        cluster, session = self.hook.get_conn()
        return cluster, session, resolve_table(cluster, ks, tbl)

    def _export_options(self, ranges: Any, destination: str = "", **extra: Any) -> Any:
        from cassandra_bulk_core.export import ExportOptions
        from cassandra_bulk_core.scan import ScanOptions

        config = self.hook.get_connection_config()
        scan = ScanOptions(
            columns=tuple(self.columns) if self.columns else None,
            page_size=self.page_size or self.hook.page_size or 5000,
            streams=self.streams,
            consistency=config.consistency,
            request_timeout=config.request_timeout,
            local_dc=config.local_dc,
        )
        splits = ranges[0].count if ranges else int(self.splits)
        only = tuple(r.id for r in ranges) if ranges else None
        return ExportOptions(
            destination=destination,
            splits=splits,
            only_ranges=only,
            range_workers=self.range_workers,
            scan=scan,
            **extra,
        )

    def _selection(self, context: Any, range_id: Any) -> Any:
        ranges = resolve_ranges(range_id)
        with contextlib.suppress(TypeError):  # a read-only context
            context[RANGE_CONTEXT_KEY] = label(ranges)
        return ranges

    def on_kill(self) -> None:
        if self._hook is not None:
            self._hook.close()


def _date(value: Any, context: Any) -> dt.date:
    """An explicit date (``"{{ ds }}"`` rendered, a date) or else the run's logical date, else today (UTC)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if value:
        return dt.date.fromisoformat(str(value)[:10])
    ds = context.get("ds") if isinstance(context, Mapping) else None
    if ds:
        return dt.date.fromisoformat(str(ds))
    return dt.datetime.now(dt.timezone.utc).date()


class _IcebergMixin:
    """Iceberg catalog arguments (shared by export and verify)."""

    warehouse: str
    iceberg_table: str | None
    catalog_name: str
    catalog_properties: Mapping[str, str] | None
    mode: str

    def _iceberg_options(self, export_date: dt.date | None, **extra: Any) -> Any:
        from cassandra_bulk_core.iceberg import IcebergOptions

        return IcebergOptions(
            table=self.iceberg_table,
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.catalog_properties or {}),
            warehouse=str(self.warehouse),
            mode=self.mode,
            export_date=export_date,
            **extra,
        )


class CassandraToIcebergOperator(_IcebergMixin, _CassandraBulkOperator):
    """Export one token range (``range_id``; mapped with ``.expand``) or every range into Iceberg.

    Uses the engine's exactly-once per-range commit, so a retry or a cleared map index replaces
    that range's rows instead of duplicating them. ``mode``: ``mirror`` (default), ``daily`` (rows
    filed under ``export_date``, default the run's logical date ``{{ ds }}``), ``single``,
    ``incremental``. Returns ``{"range_id", "rows", "bytes", "files", "snapshot_id", ...}``.
    """

    template_fields: Sequence[str] = ("table", "keyspace", "warehouse", "iceberg_table", "export_date", "mode")

    def __init__(
        self,
        *,
        range_id: Any = None,
        warehouse: str = "warehouse",
        iceberg_table: str | None = None,
        catalog_name: str = "default",
        catalog_properties: Mapping[str, str] | None = None,
        mode: str = "mirror",
        export_date: str | dt.date | None = None,
        partition_by: Sequence[str] = (),
        sort_by: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.range_id = range_id
        self.warehouse = warehouse
        self.iceberg_table = iceberg_table
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.mode = mode
        self.export_date = export_date
        self.partition_by = tuple(partition_by)
        self.sort_by = tuple(sort_by)

    def execute(self, context: Any) -> dict[str, Any]:
        from cassandra_bulk_core.iceberg import export_to_iceberg, load_catalog

        ranges = self._selection(context, self.range_id)
        export_date = _date(self.export_date, context) if self.mode == "daily" else None
        ice = self._iceberg_options(export_date, partition_by=self.partition_by, sort_by=self.sort_by)
        catalog = load_catalog(ice)
        try:
            cluster, session, info = self._resolve()
            result = export_to_iceberg(
                cluster,
                session,
                info,
                self._export_options(ranges),
                ice,
                listener=TaskLogListener(self.log),
                catalog=catalog,
            )
        finally:
            self.hook.close()
        identifier = self.iceberg_table or f"{info.keyspace}.{info.table}"
        return {
            "range_id": label(ranges),
            "table": identifier,
            "mode": self.mode,
            "export_date": export_date.isoformat() if export_date else None,
            "rows": result.rows,
            "bytes": result.bytes,
            "files": len(result.files),
            "operation_id": result.operation_id,
            "snapshot_id": _snapshot_of(catalog, identifier, result.operation_id),
        }


def _snapshot_of(catalog: Any, identifier: str, operation_id: str) -> int | None:
    from cassandra_bulk_core.iceberg import operation_snapshot_id

    return operation_snapshot_id(catalog.load_table(identifier), operation_id)


class CassandraToFilesOperator(_CassandraBulkOperator):
    """Export one token range (or all) to Parquet, CSV or JSON Lines files, local or ``s3://``.

    Part files are deterministic per range and published atomically, so a retry overwrites its own
    files. Returns ``{"range_id", "rows", "bytes", "files", "destination"}``.
    """

    template_fields: Sequence[str] = ("table", "keyspace", "destination", "file_format")

    def __init__(
        self,
        *,
        destination: str,
        range_id: Any = None,
        file_format: str = "parquet",
        compression: str | None = None,
        max_rows_per_file: int | None = 1_000_000,
        s3_endpoint_url: str | None = None,
        resume: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.range_id = range_id
        self.file_format = file_format
        self.compression = compression
        self.max_rows_per_file = max_rows_per_file
        self.s3_endpoint_url = s3_endpoint_url
        self.resume = resume

    def execute(self, context: Any) -> dict[str, Any]:
        from cassandra_bulk_core.export import export_table
        from cassandra_bulk_core.sinks import SinkOptions
        from cassandra_bulk_core.storage import StorageOptions

        ranges = self._selection(context, self.range_id)
        fmt = "jsonl" if self.file_format == "json" else self.file_format
        options = self._export_options(
            ranges,
            destination=self.destination,
            resume=self.resume,
            sink=SinkOptions(format=fmt, compression=self.compression, max_rows_per_file=self.max_rows_per_file),
            storage=StorageOptions.from_env(s3_endpoint_url=self.s3_endpoint_url),
        )
        try:
            cluster, session, info = self._resolve()
            result = export_table(cluster, session, info, options, listener=TaskLogListener(self.log))
        finally:
            self.hook.close()
        return {
            "range_id": label(ranges),
            "table": f"{info.keyspace}.{info.table}",
            "destination": result.destination,
            "format": fmt,
            "rows": result.rows,
            "bytes": result.bytes,
            "files": len(result.files),
            "operation_id": result.operation_id,
        }


class CassandraIcebergVerifyOperator(_IcebergMixin, _CassandraBulkOperator):
    """Compare per-range row counts, Cassandra against the Iceberg table; fail on any mismatch.

    Put it after the mapped export. Its default ``outlets`` is the table's Asset
    (:func:`iceberg_asset`), so one export run emits one asset event, carrying the counts.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "warehouse",
        "iceberg_table",
        "export_date",
        "splits",
        "mode",
    )

    def __init__(
        self,
        *,
        warehouse: str = "warehouse",
        iceberg_table: str | None = None,
        catalog_name: str = "default",
        catalog_properties: Mapping[str, str] | None = None,
        mode: str = "mirror",
        export_date: str | dt.date | None = None,
        concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs:
            name = iceberg_table or kwargs.get("table", "")
            if "." in name and "{{" not in name:  # known at parse time
                kwargs["outlets"] = [iceberg_asset(name, catalog_name)]
        super().__init__(**kwargs)
        self.warehouse = warehouse
        self.iceberg_table = iceberg_table
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.mode = mode
        self.export_date = export_date
        self.concurrency = concurrency

    def execute(self, context: Any) -> dict[str, Any]:
        from cassandra_bulk_core.iceberg import load_catalog, verify
        from cassandra_bulk_core.ring import plan_ranges

        export_date = _date(self.export_date, context) if self.mode == "daily" else None
        ice = self._iceberg_options(export_date)
        try:
            cluster, session, info = self._resolve()
            identifier = self.iceberg_table or f"{info.keyspace}.{info.table}"
            table = load_catalog(ice).load_table(identifier)
            result = verify(cluster, session, info, table, plan_ranges(int(self.splits)), export_date, self.concurrency)
        finally:
            self.hook.close()
        summary = {"table": identifier, **result.to_dict()}
        if not result.ok:
            bad = ", ".join(f"{r}: cassandra {c} vs iceberg {i}" for r, (c, i) in sorted(result.mismatches.items()))
            raise AirflowException(f"{len(result.mismatches)} range(s) differ in {identifier}: {bad}")
        self.log.info(
            "verified %s: %d rows in Cassandra and Iceberg over %s ranges",
            identifier,
            summary["cassandra_rows"],
            self.splits,
        )
        self._emit_asset_event(context, summary)
        return summary

    def _emit_asset_event(self, context: Any, summary: dict[str, Any]) -> None:
        events = context.get("outlet_events") if isinstance(context, Mapping) else None
        if events is None:
            return
        for outlet in self.outlets or []:
            if isinstance(outlet, Asset):
                events[outlet].extra = {
                    "rows": summary["cassandra_rows"],
                    "ranges": int(self.splits),
                    "table": summary["table"],
                }
