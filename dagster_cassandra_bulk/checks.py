"""Asset checks: does the Iceberg table still match the Cassandra table?

``row_counts_match`` compares per-range counts (engine ``verify``: a ``count(*)`` per range in
Cassandra against the per-range record counts in Iceberg's partition metadata, no data file read).
It fails when ranges were not all exported or Cassandra changed since; that is the point.
``schema_matches`` compares column names and CQL types (kept in each Iceberg field's doc). A column
added or dropped in Cassandra is a warning: the next export evolves the Iceberg schema. A changed
type (Cassandra allows it only by dropping a column and adding it back as a compatible type) is an
error: the engine refuses to export into a field of another type until the table is recreated.
"""

import datetime as dt
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)

from dagster_cassandra_bulk.translator import CassandraTable, DagsterCassandraBulkTranslator

if TYPE_CHECKING:
    from dagster_cassandra_bulk.resources import CassandraResource, IcebergCatalogResource

_ENGINE_COLUMNS = ("_cb_range", "_cb_export_date")


def _latest_export_date(iceberg_table: Any) -> dt.date | None:
    dates = [row["partition"].get("_cb_export_date") for row in iceberg_table.inspect.partitions().to_pylist()]
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else None


def check_row_counts(
    table: CassandraTable, cassandra: "CassandraResource", catalog: "IcebergCatalogResource"
) -> AssetCheckResult:
    """Per-range counts; in daily mode against the newest exported date."""
    from cassandra_bulk_core.iceberg import verify
    from cassandra_bulk_core.ring import plan_ranges
    from cassandra_bulk_core.table import resolve_table

    cluster, session = cassandra.get_session()
    info = resolve_table(cluster, table.keyspace, table.table)
    iceberg_table = catalog.load_table(table.iceberg_identifier)
    export_date = _latest_export_date(iceberg_table) if table.mode == "daily" else None
    result = verify(cluster, session, info, iceberg_table, plan_ranges(table.splits), export_date)
    summary = result.to_dict()
    metadata: dict[str, Any] = {
        "cassandra_rows": summary["cassandra_rows"],
        "iceberg_rows": summary["iceberg_rows"],
        "mismatched_ranges": len(result.mismatches),
    }
    if result.mismatches:
        metadata["mismatches"] = {r: {"cassandra": c, "iceberg": i} for r, (c, i) in sorted(result.mismatches.items())}
    if export_date is not None:
        metadata["export_date"] = export_date.isoformat()
    return AssetCheckResult(passed=result.ok, metadata=metadata)


def check_schema(
    table: CassandraTable, cassandra: "CassandraResource", catalog: "IcebergCatalogResource"
) -> AssetCheckResult:
    """Cassandra columns (name + CQL type) against the Iceberg table's top-level fields."""
    from cassandra_bulk_core.table import resolve_table

    cluster, _ = cassandra.get_session()
    info = resolve_table(cluster, table.keyspace, table.table)
    wanted = set(table.columns) if table.columns else None
    cql = {name: str(col.cql_type) for name, col in info.metadata.columns.items() if wanted is None or name in wanted}
    fields = {f.name: f.doc for f in catalog.load_table(table.iceberg_identifier).schema().fields}
    ice = {name: (doc or "").removeprefix("cql: ") for name, doc in fields.items() if name not in _ENGINE_COLUMNS}
    missing = sorted(set(cql) - set(ice))
    extra = sorted(set(ice) - set(cql)) if wanted is None else []
    changed = sorted(n for n in set(cql) & set(ice) if ice[n] and ice[n] != cql[n])
    return AssetCheckResult(
        passed=not (missing or extra or changed),
        severity=AssetCheckSeverity.ERROR if changed else AssetCheckSeverity.WARN,
        metadata={
            "missing_in_iceberg": ", ".join(missing),
            "dropped_in_cassandra": ", ".join(extra),
            "type_changed": ", ".join(f"{n}: {ice[n]} -> {cql[n]}" for n in changed),
        },
    )


def build_cassandra_iceberg_checks(
    table: CassandraTable,
    *,
    translator: DagsterCassandraBulkTranslator | None = None,
    asset_key: AssetKey | None = None,
    cassandra_resource_key: str = "cassandra",
    catalog_resource_key: str = "iceberg",
) -> list[AssetChecksDefinition]:
    """The row-count and schema-drift checks for one table's asset."""
    key = asset_key or (translator or DagsterCassandraBulkTranslator()).get_asset_spec(table).key
    resources = {cassandra_resource_key, catalog_resource_key}

    @asset_check(
        asset=key,
        name="row_counts_match",
        description="Rows per token range in Cassandra equal rows per range in Iceberg.",
        required_resource_keys=resources,
    )
    def _row_counts(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return check_row_counts(
            table, getattr(context.resources, cassandra_resource_key), getattr(context.resources, catalog_resource_key)
        )

    @asset_check(
        asset=key,
        name="schema_matches",
        description="Cassandra's columns and CQL types equal the Iceberg table's (new/dropped column: warning; "
        "changed type: error).",
        required_resource_keys=resources,
    )
    def _schema(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return check_schema(
            table, getattr(context.resources, cassandra_resource_key), getattr(context.resources, catalog_resource_key)
        )

    return [_row_counts, _schema]
