"""The finalize step: per-range counts, Cassandra against Iceberg, then one Asset event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_cassandra_bulk import lineage
from airflow_provider_cassandra_bulk.operators.base import (
    AirflowException,
    CassandraBulkBaseOperator,
    IcebergTargetMixin,
    run_date,
)
from airflow_provider_cassandra_bulk.ranges import resolve_ranges

try:  # Airflow 3 Task SDK
    from airflow.sdk import Asset
except ImportError:  # pragma: no cover - Airflow 2
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef,unused-ignore]


def iceberg_asset(table: str, catalog_name: str = "default") -> Any:
    """The Airflow Asset for an Iceberg table ``namespace.table``: ``iceberg://<catalog>/<ns>/<table>``."""
    namespace, _, name = table.rpartition(".")
    return Asset(f"iceberg://{catalog_name}/{namespace or 'default'}/{name}")


class CassandraIcebergVerifyOperator(IcebergTargetMixin, CassandraBulkBaseOperator):
    """Compare per-range row counts, Cassandra against the Iceberg table; fail on any mismatch.

    Put it after the mapped export. It checks every range of ``splits``, or only ``range_id``
    (e.g. the planner's output in a backfill of a few ranges). Its default ``outlets`` is the
    table's Asset (:func:`iceberg_asset`), so one export run emits one asset event, with the counts.
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "range_id",
        "warehouse",
        "iceberg_table",
        "export_date",
        "splits",
        "mode",
    )

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
        concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs:
            name = iceberg_table or kwargs.get("table", "")
            if "." in name and "{{" not in name:  # known at parse time
                kwargs["outlets"] = [iceberg_asset(name, catalog_name)]
        super().__init__(**kwargs)
        self.range_id = range_id
        self.warehouse = warehouse
        self.iceberg_table = iceberg_table
        self.catalog_name = catalog_name
        self.catalog_properties = catalog_properties
        self.mode = mode
        self.export_date = export_date
        self.concurrency = concurrency
        self._identifier: str | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        from cassandra_bulk_core.iceberg import load_catalog, verify
        from cassandra_bulk_core.ring import plan_ranges

        plan = resolve_ranges(self.range_id) or plan_ranges(int(self.splits))
        export_date = run_date(self.export_date, context) if self.mode == "daily" else None
        ice = self._iceberg_options(export_date)
        with self._connected():
            cluster, session, info = self._resolve()
            self._identifier = identifier = self.iceberg_table or f"{info.keyspace}.{info.table}"
            table = load_catalog(ice).load_table(identifier)
            result = verify(cluster, session, info, table, plan, export_date, self.concurrency)
        summary = {"table": identifier, "ranges": len(plan), **result.to_dict()}
        if not result.ok:
            bad = ", ".join(f"{r}: cassandra {c} vs iceberg {i}" for r, (c, i) in sorted(result.mismatches.items()))
            raise AirflowException(f"{len(result.mismatches)} range(s) differ in {identifier}: {bad}")
        self.log.info(
            "verified %s: %d rows in Cassandra and Iceberg over %d ranges",
            identifier,
            summary["cassandra_rows"],
            len(plan),
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
                    "ranges": summary["ranges"],
                    "table": summary["table"],
                }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The reconciled pair: Cassandra table in, the verified Iceberg table out."""
        inputs = [lineage.cassandra_dataset(self._source)] if self._source else []
        identifier = self._identifier or self.iceberg_table
        outputs = (
            [lineage.iceberg_dataset(str(self.warehouse), self.catalog_properties, identifier, self._source)]
            if identifier
            else []
        )
        return lineage.operator_lineage(inputs, outputs)
