"""Export operators: one token range (a mapped instance) or every range, to Iceberg or to files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import Context

from airflow_provider_cassandra_bulk import lineage
from airflow_provider_cassandra_bulk.operators.base import (
    CassandraBulkBaseOperator,
    IcebergTargetMixin,
    TaskLogListener,
    run_date,
)
from airflow_provider_cassandra_bulk.ranges import label


class CassandraToIcebergOperator(IcebergTargetMixin, CassandraBulkBaseOperator):
    """Export one token range (``range_id``; mapped with ``.expand``) or every range into Iceberg.

    Uses the engine's exactly-once per-range commit, so a retry or a cleared map index replaces
    that range's rows instead of duplicating them. ``mode``: ``mirror`` (default), ``daily`` (rows
    filed under ``export_date``, default the run's logical date ``{{ ds }}``), ``single``,
    ``incremental``. Returns ``{"range_id", "rows", "bytes", "files", "snapshot_id", ...}``.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "cassandra_conn_id",
        "range_id",
        "warehouse",
        "iceberg_table",
        "catalog_properties",
        "export_date",
        "mode",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"catalog_properties": "json", "range_id": "json"}

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
        self._identifier: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        from cassandra_bulk_core.iceberg import export_to_iceberg, load_catalog, operation_snapshot_id

        ranges = self._selection(context, self.range_id)
        export_date = run_date(self.export_date, context) if self.mode == "daily" else None
        ice = self._iceberg_options(export_date, partition_by=self.partition_by, sort_by=self.sort_by)
        catalog = load_catalog(ice)
        with self._connected():
            cluster, session, info = self._resolve()
            self._identifier = self.iceberg_table or f"{info.keyspace}.{info.table}"
            result = export_to_iceberg(
                cluster,
                session,
                info,
                self._export_options(ranges),
                ice,
                listener=TaskLogListener(self.log),
                catalog=catalog,
            )
        return {
            "range_id": label(ranges),
            "table": self._identifier,
            "mode": self.mode,
            "export_date": export_date.isoformat() if export_date else None,
            "rows": result.rows,
            "bytes": result.bytes,
            "files": len(result.files),
            "operation_id": result.operation_id,
            "snapshot_id": operation_snapshot_id(catalog.load_table(self._identifier), result.operation_id),
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Cassandra table in, Iceberg table out (OpenLineage provider only; see :mod:`..lineage`)."""
        inputs = [lineage.cassandra_dataset(self._source)] if self._source else []
        identifier = self._identifier or self.iceberg_table
        outputs = (
            [lineage.iceberg_dataset(str(self.warehouse), self._lineage_catalog(), identifier, self._source)]
            if identifier
            else []
        )
        return lineage.operator_lineage(inputs, outputs)


class CassandraToFilesOperator(CassandraBulkBaseOperator):
    """Export one token range (or all) to Parquet, CSV or JSON Lines files, local or ``s3://``.

    Part files are deterministic per range and published atomically, so a retry overwrites its own
    files. Returns ``{"range_id", "rows", "bytes", "files", "destination"}``.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "cassandra_conn_id",
        "range_id",
        "destination",
        "file_format",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"range_id": "json"}

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

    def execute(self, context: Context) -> dict[str, Any]:
        from cassandra_bulk_core.export import export_table
        from cassandra_bulk_core.io import StorageOptions
        from cassandra_bulk_core.sinks import SinkOptions

        ranges = self._selection(context, self.range_id)
        fmt = "jsonl" if self.file_format == "json" else self.file_format
        with self._connected():
            options = self._export_options(
                ranges,
                destination=self.destination,
                resume=self.resume,
                sink=SinkOptions(format=fmt, compression=self.compression, max_rows_per_file=self.max_rows_per_file),
                storage=StorageOptions.from_env(s3_endpoint_url=self.s3_endpoint_url),
            )
            cluster, session, info = self._resolve()
            result = export_table(cluster, session, info, options, listener=TaskLogListener(self.log))
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

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Cassandra table in, the object-store location out."""
        inputs = [lineage.cassandra_dataset(self._source)] if self._source else []
        return lineage.operator_lineage(inputs, [lineage.files_dataset(str(self.destination), self._source)])
