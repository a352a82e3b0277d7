"""The finalize step: per-range counts, Cassandra against Iceberg, then one Asset event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlunsplit

from airflow.sdk import Asset, Context

from airflow_provider_cassandra_bulk import lineage
from airflow_provider_cassandra_bulk.operators.base import (
    AirflowException,
    CassandraBulkBaseOperator,
    IcebergTargetMixin,
    run_date,
)
from airflow_provider_cassandra_bulk.ranges import resolve_ranges


def iceberg_asset(
    table: str,
    catalog_name: str = "default",
    *,
    warehouse: str = "warehouse",
    catalog_properties: Mapping[str, str] | None = None,
) -> Asset:
    """The Airflow Asset of an Iceberg table ``namespace.table``, named so that it is unique across
    deployments: ``iceberg://<catalog location>/<namespace>/<table>``.

    The location is the catalog service (its ``uri`` property, credentials dropped, with the
    ``warehouse`` property as a query when both are set), else the ``warehouse`` property, else, for
    the embedded catalog, the absolute warehouse directory (``iceberg:///data/wh/demo/events``). A
    catalog configured only in ``.pyiceberg.yaml`` (read at run time, not at DAG parse) is named by its
    catalog name: pass ``catalog_properties`` (or ``outlets=``) to pin it. Consumers schedule on
    the same call: ``schedule=[iceberg_asset("demo.events", warehouse=...)]``.

    :param table: ``namespace.table`` (a bare name is put in ``default``).
    :param catalog_name: the pyiceberg catalog name, as given to the operators.
    :param warehouse: the operators' ``warehouse`` (the embedded catalog's directory).
    :param catalog_properties: the operators' ``catalog_properties``.
    """
    namespace, _, name = table.rpartition(".")
    at = lineage.iceberg_location(warehouse, catalog_name, catalog_properties)
    return Asset(urlunsplit(("iceberg", at.netloc, f"{at.path}/{namespace or 'default'}/{name}", at.query, "")))


class CassandraIcebergVerifyOperator(IcebergTargetMixin, CassandraBulkBaseOperator):
    """Compare per-range row counts, Cassandra against the Iceberg table; fail on any mismatch.

    Put it after the mapped export. It checks every range of ``splits``, or only ``range_id``
    (e.g. the planner's output in a backfill of a few ranges). Its default ``outlets`` is the
    table's Asset (:func:`iceberg_asset`), so one export run emits one asset event, with the counts.
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
        "splits",
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
        concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs:
            name = iceberg_table or kwargs.get("table", "")
            if "." in name and "{{" not in name + str(warehouse):  # known at parse time
                asset = iceberg_asset(name, catalog_name, warehouse=warehouse, catalog_properties=catalog_properties)
                kwargs["outlets"] = [asset]
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

    def execute(self, context: Context) -> dict[str, Any]:
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
            [lineage.iceberg_dataset(str(self.warehouse), self._lineage_catalog(), identifier, self._source)]
            if identifier
            else []
        )
        return lineage.operator_lineage(inputs, outputs)
