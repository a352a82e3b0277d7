"""Table maintenance of an exported Iceberg table as an Airflow task: compact small files per range,
expire snapshots, remove orphans. Translation only: the arguments become a ``MaintenanceOptions``
and the work is one ``cassandra_bulk_core`` call (:func:`run_maintenance`). No Cassandra connection
is needed; the catalog arguments are the export operator's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cassandra_bulk.operators.base import AirflowException, BaseOperator, _fail_exception, _terminal


class CassandraIcebergMaintenanceOperator(BaseOperator):  # type: ignore[misc]
    """Compact, expire and clean an Iceberg table written by the cassandra-bulk export operators.

    Put it in a nightly DAG after the export (or in its own ``@daily`` DAG a few hours later):
    ``CassandraIcebergMaintenanceOperator(task_id="maintain", iceberg_table="ks.events",
    warehouse="/data/warehouse", rewrite_small_files=True, expire_older_than_hours=168,
    remove_orphans_older_than_hours=24)``. Returns (XCom) the engine's JSON report.

    :param iceberg_table: ``namespace.table`` (templated).
    :param warehouse: the embedded catalog's directory, or the warehouse location (templated).
    :param catalog_name: pyiceberg catalog name.
    :param catalog_properties: pyiceberg catalog properties (empty: the embedded SQLite catalog).
    :param rewrite_small_files: compact each range's small files into files of ``target_file_size``.
    :param target_file_size: e.g. ``128MB`` (templated).
    :param ranges: compact only these range ids (templated; e.g. from a planner's XCom).
    :param expire_older_than_hours: expire snapshots older than this (the current one stays).
    :param remove_orphans_older_than_hours: delete unreferenced files older than this.
    :param dry_run: only list orphan files.
    """

    template_fields: Sequence[str] = (
        "iceberg_table",
        "warehouse",
        "target_file_size",
        "ranges",
        "expire_older_than_hours",
        "remove_orphans_older_than_hours",
    )
    ui_color = "#d7ecf7"

    def __init__(
        self,
        *,
        iceberg_table: str,
        warehouse: str = "warehouse",
        catalog_name: str = "default",
        catalog_properties: Mapping[str, str] | None = None,
        rewrite_small_files: bool = True,
        target_file_size: str | int = "128MB",
        ranges: Sequence[str] | str | None = None,
        expire_older_than_hours: float | str | None = 7 * 24,
        remove_orphans_older_than_hours: float | str | None = 24,
        dry_run: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.iceberg_table = iceberg_table
        self.warehouse = warehouse
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.rewrite_small_files = rewrite_small_files
        self.target_file_size = target_file_size
        self.ranges = ranges
        self.expire_older_than_hours = expire_older_than_hours
        self.remove_orphans_older_than_hours = remove_orphans_older_than_hours
        self.list_orphans_only = dry_run  # BaseOperator has a dry_run() method

    def _options(self) -> Any:
        from cassandra_bulk_core.iceberg.maintenance import MaintenanceOptions

        def hours(value: float | str | None) -> dt.timedelta | None:
            return None if value in (None, "", "None") else dt.timedelta(hours=float(value))  # type: ignore[arg-type]

        ranges = self.ranges
        if isinstance(ranges, str):  # a rendered template: "r0-of-4,r1-of-4"
            ranges = [r.strip() for r in ranges.split(",") if r.strip()]
        return MaintenanceOptions(
            rewrite_small_files=self.rewrite_small_files,
            target_file_size=self.target_file_size,
            ranges=tuple(ranges) if ranges else None,
            expire_older_than=hours(self.expire_older_than_hours),
            remove_orphans_older_than=hours(self.remove_orphans_older_than_hours),
            dry_run=self.list_orphans_only,
        )

    def execute(self, context: Any) -> dict[str, Any]:
        from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog
        from cassandra_bulk_core.iceberg.maintenance import run_maintenance

        properties = dict(self.catalog_properties or {})
        ice = IcebergOptions(
            catalog_name=self.catalog_name, catalog_properties=properties, warehouse=str(self.warehouse)
        )
        try:
            report = run_maintenance(load_catalog(ice), self.iceberg_table, self._options(), properties).to_dict()
        except Exception as exc:
            if _terminal(exc) or isinstance(exc, ValueError):
                raise _fail_exception()(f"maintenance of {self.iceberg_table}: {exc}") from exc
            raise AirflowException(f"maintenance of {self.iceberg_table}: {exc}") from exc
        rewrite = report.get("rewrite_small_files") or {}
        self.log.info(
            "maintenance of %s: %s range(s) compacted (%s -> %s files, %s conflicted), "
            "%s snapshot(s) expired, %s orphan file(s) removed",
            self.iceberg_table,
            rewrite.get("ranges_rewritten", 0),
            rewrite.get("files_before", "-"),
            rewrite.get("files_after", "-"),
            len(rewrite.get("ranges_conflicted") or []),
            report.get("expired_snapshots", 0),
            len(report.get("orphan_files") or []),
        )
        return report
