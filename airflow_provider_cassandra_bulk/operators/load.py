"""Load operators: an Iceberg table or files back into Cassandra, one token range per mapped instance.

The mirror image of :mod:`.export`: ``IcebergToCassandraOperator.partial(...).expand(range_id=plan.output)``
writes, in each map index, only the rows whose partition-key token lies in its range (the engine's
``LoadOptions.only_range``): an Iceberg table our export wrote is scanned with ``_cb_range = '<id>'``,
files an export named ``rNN-of-NN-part-*`` are picked by name, anything else is filtered by token.

Every load writes with one explicit timestamp, so a retried or cleared map index rewrites the same
cells: a re-run never duplicates a row. Rejected records fail the task by default
(``max_errors=0``): a restore that silently drops rows is worse than one that stops; the records
and reasons are in ``<log_dir>/load_<time>_<id>/rejects.*`` and ``errors.log``, named in the error.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, Context

from airflow_provider_cassandra_bulk import lineage
from airflow_provider_cassandra_bulk.operators.base import (
    AirflowException,
    CassandraBulkBaseOperator,
    TaskLogListener,
)
from airflow_provider_cassandra_bulk.ranges import label

DEFAULT_LOG_DIR = os.path.join(tempfile.gettempdir(), "cassandra-bulk-load")
"""Where each load's ``rejects.*``, ``errors.log``, ``checkpoint.json`` and ``summary.json`` go
unless ``log_dir`` says otherwise (use shared storage if workers are separate machines)."""

_SUMMED = ("records", "rows_written", "rejected", "failed_writes", "skipped_other_range", "errors")


def _optional_int(value: Any) -> int | None:
    """A rendered template may give ``""``, ``"None"`` or ``"null"`` for a parameter left empty."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.lower() in ("", "none", "null"):
        return None
    return int(text)


def as_of_millis(value: Any) -> int | None:
    """``as_of`` as epoch milliseconds: an int (already ms), a datetime, or an ISO-8601 string
    (a naive one is UTC)."""
    if isinstance(value, dt.datetime):
        moment = value
    elif value is None or isinstance(value, int) or str(value).strip().lower() in ("", "none", "null"):
        return _optional_int(value)
    elif str(value).strip().lstrip("-").isdigit():
        return int(str(value).strip())
    else:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp() * 1000)


def _fatal_load_error() -> tuple[type[BaseException], ...]:
    from cassandra_bulk_core.load import LoadAborted

    return (LoadAborted,)


class _CassandraLoadOperator(CassandraBulkBaseOperator):
    """What both load operators share: the target table, the range, write and reject settings.

    ``range_id`` as in the export operators (an id, a planner descriptor, comma-separated ids, a
    group; ``None`` loads every row in one task). A group of ranges (the planner's output past
    ``max_map_length``) is loaded range by range, one engine load each.
    """

    def __init__(
        self,
        *,
        range_id: Any = None,
        max_errors: int | str = 0,
        log_dir: str | None = None,
        batch_mode: str = "auto",
        concurrency: int | None = None,
        max_rows_per_second: float | None = None,
        consistency: str | None = None,
        mapping: Mapping[str, str] | None = None,
        ttl: int | None = None,
        write_timestamp: int | None = None,
        preserve_writetime: bool = True,
        null_to_unset: bool = True,
        resume: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.range_id = range_id
        self.max_errors = max_errors
        self.log_dir = log_dir
        self.batch_mode = batch_mode
        self.concurrency = concurrency
        self.max_rows_per_second = max_rows_per_second
        self.consistency = consistency
        self.mapping = mapping
        self.ttl = ttl
        self.write_timestamp = write_timestamp
        self.preserve_writetime = preserve_writetime
        self.null_to_unset = null_to_unset
        self.resume = resume
        self._cancel: threading.Event | None = None  # made in execute (an Event does not deep-copy)

    # -- what the subclasses say --------------------------------------------------------------

    def _source_options(self, info: Any) -> dict[str, Any]:
        """``LoadOptions`` fields naming the source (``source``, ``format``, ``iceberg``, ``storage``)."""
        raise NotImplementedError

    def _describe_source(self) -> dict[str, Any]:
        """What the XCom says about the source (never a credential)."""
        raise NotImplementedError

    # -- the load -----------------------------------------------------------------------------

    def _load_options(self, info: Any, only_range: str | None) -> Any:
        from cassandra_bulk_core.load import LoadOptions

        config = self.hook.get_connection_config()
        return LoadOptions(
            **self._source_options(info),
            cancel=self._cancel,
            only_range=only_range,
            mapping=dict(self.mapping) if self.mapping else None,
            ttl=self.ttl,
            write_timestamp=self._write_time(info),
            preserve_writetime=self.preserve_writetime,
            null_to_unset=self.null_to_unset,
            batch_mode=self.batch_mode,
            concurrency=self.concurrency,
            max_rows_per_second=self.max_rows_per_second,
            consistency=self.consistency or config.consistency,
            request_timeout=config.request_timeout,
            max_errors=self.max_errors,
            log_dir=str(self.log_dir or DEFAULT_LOG_DIR),
            resume=self.resume,
        )

    def _write_time(self, info: Any) -> int | None:
        """The write time every range of this load uses (None: the load's own timestamp)."""
        return self.write_timestamp

    def execute(self, context: Context) -> dict[str, Any]:
        from cassandra_bulk_core.load import load_table

        ranges = self._selection(context, self.range_id)
        self._cancel = threading.Event()
        if self._killed:
            self._cancel.set()
        summaries: list[dict[str, Any]] = []
        with self._connected():
            cluster, session, info = self._resolve()
            for only in [r.id for r in ranges] if ranges else [None]:
                options = self._load_options(info, only)
                try:
                    result = load_table(cluster, session, info, options, listener=TaskLogListener(self.log))
                except _fatal_load_error() as exc:
                    if self._killed:
                        raise
                    # Too many rejected records. Left retryable: the engine's count mixes records that
                    # cannot be converted (a retry rejects them again, quickly: max_errors stops the
                    # load at the first ones) with writes that failed after every attempt (a retry
                    # may well succeed).
                    raise AirflowException(f"{self.task_id} ({only or 'all'}): {exc}") from exc
                summary = result.summary()
                summaries.append(summary)
                if result.errors:
                    self.log.warning(
                        "%s: %d record(s) rejected (within max_errors=%s); records and reasons in %s",
                        only or "all",
                        result.errors,
                        self.max_errors,
                        result.log_dir,
                    )
        out = self._merge(summaries)
        out["range_id"] = label(ranges)
        out.update(self._describe_source())
        self.log.info(
            "loaded %d rows into %s (%s): %d record(s) read, %d rejected",
            out["rows_written"],
            out["table"],
            out["range_id"],
            out["records"],
            out["errors"],
        )
        return out

    def on_kill(self) -> None:
        """Shut the driver down (no write is sent after it) and cancel the engine's load."""
        if self._cancel is not None:
            self._cancel.set()
        super().on_kill()

    @staticmethod
    def _merge(summaries: list[dict[str, Any]]) -> dict[str, Any]:
        """One summary for the task: the engine's own for one range, sums for a group."""
        if len(summaries) == 1:
            return dict(summaries[0])
        out = dict(summaries[0])
        for key in _SUMMED:
            out[key] = sum(int(s[key]) for s in summaries)
        out["seconds"] = round(sum(float(s["seconds"]) for s in summaries), 3)
        out["rows_per_s"] = round(out["rows_written"] / out["seconds"], 1) if out["seconds"] else None
        out["operation_id"] = ",".join(s["operation_id"] for s in summaries)
        out["log_dir"] = os.path.commonpath([s["log_dir"] for s in summaries])
        out["timestamp"] = min(int(s["timestamp"]) for s in summaries)
        for key in ("resources", "bytes_read", "retries", "skipped_resumed"):
            if key in out:
                out[key] = sum(int(s.get(key, 0)) for s in summaries)
        out["aborted"] = any(s.get("aborted") for s in summaries)
        return out

    def _target_dataset(self) -> list[Any]:
        return [lineage.cassandra_dataset(self._source)] if self._source else []


class IcebergToCassandraOperator(_CassandraLoadOperator):
    """Load one token range (``range_id``; mapped with ``.expand``) or every row of an Iceberg table
    into the Cassandra table ``table``.

    ``iceberg_table`` (default: the Cassandra ``keyspace.table``) in the catalog of ``warehouse``
    (or ``catalog_properties``), as of ``snapshot_id`` or ``as_of`` (epoch ms or ISO-8601), else
    the current snapshot — resolved once per task and reported in the XCom; pin it for the whole
    run (the restore task group does) so every range reads the same snapshot. ``row_filter`` is
    pyiceberg's expression syntax. Returns the engine's load summary (``records``,
    ``rows_written``, ``rejected``, ``failed_writes``, ``skipped_other_range``, ``seconds``,
    ``log_dir``, ``timestamp``, ...) with ``range_id``, ``iceberg_table`` and ``snapshot_id``.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "cassandra_conn_id",
        "range_id",
        "warehouse",
        "iceberg_table",
        "catalog_properties",
        "snapshot_id",
        "as_of",
        "row_filter",
        "mapping",
        "max_errors",
        "log_dir",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "catalog_properties": "json",
        "mapping": "json",
        "range_id": "json",
    }

    def __init__(
        self,
        *,
        warehouse: str = "warehouse",
        iceberg_table: str | None = None,
        catalog_name: str = "default",
        catalog_properties: Mapping[str, str] | None = None,
        snapshot_id: int | str | None = None,
        as_of: int | str | dt.datetime | None = None,
        row_filter: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse = warehouse
        self.iceberg_table = iceberg_table
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.snapshot_id = snapshot_id
        self.as_of = as_of
        self.row_filter = row_filter
        self._identifier: str | None = None
        self._snapshot: int | None = None
        self._snapshot_ms: int | None = None

    def _iceberg_source(self, identifier: str, snapshot_id: int | None) -> Any:
        from cassandra_bulk_core.sources import IcebergSource

        return IcebergSource(
            table=identifier,
            warehouse=str(self.warehouse),
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.catalog_properties or {}),
            snapshot_id=snapshot_id,
            as_of=as_of_millis(self.as_of) if snapshot_id is None else None,
            row_filter=str(self.row_filter).strip() or None if self.row_filter else None,
        )

    def _source_options(self, info: Any) -> dict[str, Any]:
        if self._identifier is None:
            self._identifier = str(self.iceberg_table or f"{info.keyspace}.{info.table}")
        if self._snapshot is None:  # once per task: every range of a group reads the same snapshot
            source = self._iceberg_source(self._identifier, _optional_int(self.snapshot_id))
            table = source.open()
            self._snapshot = source.snapshot(table)
            if self._snapshot is not None:
                self._snapshot_ms = int(table.snapshot_by_id(self._snapshot).timestamp_ms)
        return {
            "source": self._identifier,
            "format": "iceberg",
            "iceberg": self._iceberg_source(self._identifier, self._snapshot),
        }

    def _describe_source(self) -> dict[str, Any]:
        return {"iceberg_table": self._identifier, "snapshot_id": self._snapshot}

    def _write_time(self, info: Any) -> int | None:
        """The engine's restore rule (as in Dagster and the CLI): the snapshot's commit time, unless
        the table has non-frozen lists (a same-time rewrite would append), or an explicit time."""
        from cassandra_bulk_core.restore import restore_write_time
        from cassandra_bulk_core.types.tree import table_types

        cluster, _session = self.hook.get_conn()
        types = table_types(cluster, info.keyspace, info.table)
        rule = restore_write_time(types, self.write_timestamp, self._snapshot_ms, f"{info.keyspace}.{info.table}")
        if rule.notice:
            (self.log.warning if rule.warning else self.log.info)(rule.notice)
        return rule.timestamp

    def _lineage_catalog(self) -> Mapping[str, str] | None:
        return lineage.run_catalog_properties(self.catalog_name, self.catalog_properties, str(self.warehouse))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The Iceberg table in, the Cassandra table out (OpenLineage provider only)."""
        identifier = self._identifier or self.iceberg_table
        inputs = (
            [lineage.iceberg_dataset(str(self.warehouse), self._lineage_catalog(), identifier, self._source)]
            if identifier
            else []
        )
        return lineage.operator_lineage(inputs, self._target_dataset())


class FilesToCassandraOperator(_CassandraLoadOperator):
    """Load one token range (or all) of Parquet, CSV or JSON Lines files, local or ``s3://``, into
    the Cassandra table ``table``.

    ``source`` is a file or a directory (an export's destination); ``file_format`` defaults to the
    files' suffix. Files an export of the same split count named ``rNN-of-NN-part-*`` are picked
    by name; others are read whole and filtered by token. S3 settings come from the AWS chain /
    ``CASSANDRA_BULK_S3_*``. Returns the engine's load summary with ``range_id`` and ``source``.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "cassandra_conn_id",
        "range_id",
        "source",
        "file_format",
        "file_pattern",
        "mapping",
        "max_errors",
        "log_dir",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"mapping": "json", "range_id": "json"}

    def __init__(
        self,
        *,
        source: str,
        file_format: str | None = None,
        file_pattern: str | None = None,
        s3_endpoint_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.file_format = file_format
        self.file_pattern = file_pattern
        self.s3_endpoint_url = s3_endpoint_url

    def _source_options(self, info: Any) -> dict[str, Any]:
        from cassandra_bulk_core.storage import StorageOptions

        fmt = self.file_format or None
        return {
            "source": str(self.source),
            "format": "jsonl" if fmt == "json" else fmt,
            "file_pattern": self.file_pattern or None,
            "storage": StorageOptions.from_env(s3_endpoint_url=self.s3_endpoint_url),
        }

    def _describe_source(self) -> dict[str, Any]:
        return {"source": str(self.source)}

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The files' location in, the Cassandra table out."""
        return lineage.operator_lineage([lineage.files_dataset(str(self.source), self._source)], self._target_dataset())


class IcebergSnapshotOperator(BaseOperator):
    """Pin the snapshot a restore reads: ``snapshot_id`` if given (checked to exist), else the one
    current at ``as_of``, else the current one. Returns it (an int), for the mapped loads'
    ``snapshot_id``, so every range reads the same state of the table even if it changes mid-run."""

    template_fields: Sequence[str] = ("iceberg_table", "warehouse", "catalog_properties", "snapshot_id", "as_of")
    template_fields_renderers: ClassVar[dict[str, str]] = {"catalog_properties": "json"}

    def __init__(
        self,
        *,
        iceberg_table: str,
        warehouse: str = "warehouse",
        catalog_name: str = "default",
        catalog_properties: Mapping[str, str] | None = None,
        snapshot_id: int | str | None = None,
        as_of: int | str | dt.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.iceberg_table = iceberg_table
        self.warehouse = warehouse
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.snapshot_id = snapshot_id
        self.as_of = as_of

    def execute(self, context: Context) -> int:
        from cassandra_bulk_core.sources import IcebergSource

        snapshot_id = _optional_int(self.snapshot_id)
        source = IcebergSource(
            table=str(self.iceberg_table),
            warehouse=str(self.warehouse),
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.catalog_properties or {}),
            snapshot_id=snapshot_id,
            as_of=as_of_millis(self.as_of) if snapshot_id is None else None,
        )
        snapshot = source.snapshot(source.open())
        if snapshot is None:
            raise AirflowException(f"Iceberg table {self.iceberg_table} has no snapshot: nothing to restore")
        self.log.info("restoring %s as of snapshot %d", self.iceberg_table, snapshot)
        return int(snapshot)
