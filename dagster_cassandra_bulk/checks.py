"""Asset checks: does the Iceberg table still match the Cassandra table?

``row_counts_match`` compares per-range counts (engine ``verify``: a ``count(*)`` per range in
Cassandra against the per-range record counts in Iceberg's partition metadata, no data file read).
It fails when ranges were not all exported or Cassandra changed since; that is the point. In a run
that materializes some partitions (a backfill batch, one range), it checks those ranges only (and,
in daily mode, those dates): the other ranges may not be exported yet, and a backfill of four
batches would otherwise fail its first three checks.
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


def run_selection(context: AssetCheckExecutionContext, table: CassandraTable) -> dict[dt.date | None, list[str]] | None:
    """The run's range ids by export date (``None`` key in mirror mode), or ``None`` for a run
    without partitions (the check then covers every range)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    out: dict[dt.date | None, list[str]] = {}
    for key in context.partition_keys:
        if table.mode == "daily":
            day, range_id = str(key).split("|")  # dimensions ordered by name: date, range
            out.setdefault(dt.date.fromisoformat(day), []).append(range_id)
        else:
            out.setdefault(None, []).append(str(key))
    return out


def check_row_counts(
    table: CassandraTable,
    cassandra: "CassandraResource",
    catalog: "IcebergCatalogResource",
    selection: dict[dt.date | None, list[str]] | None = None,
) -> AssetCheckResult:
    """Per-range counts: of ``selection`` (range ids by export date, see :func:`run_selection`), else
    of every range (in daily mode: of the newest exported date)."""
    from cassandra_bulk_core.iceberg import verify
    from cassandra_bulk_core.ring import plan_ranges, range_by_id
    from cassandra_bulk_core.table import resolve_table

    cluster, session = cassandra.get_session()
    info = resolve_table(cluster, table.keyspace, table.table)
    iceberg_table = catalog.load_table(table.iceberg_identifier)
    if selection is None:
        latest = _latest_export_date(iceberg_table) if table.mode == "daily" else None
        plans = {latest: plan_ranges(table.splits)}
    else:
        plans = {day: [range_by_id(r) for r in sorted(ids)] for day, ids in selection.items()}
    cassandra_rows = iceberg_rows = 0
    mismatches: dict[str, Any] = {}
    for day, plan in sorted(plans.items(), key=lambda kv: str(kv[0])):
        summary = (result := verify(cluster, session, info, iceberg_table, plan, day)).to_dict()
        cassandra_rows += summary["cassandra_rows"]
        iceberg_rows += summary["iceberg_rows"]
        for r, (c, i) in sorted(result.mismatches.items()):
            mismatches[f"{day}|{r}" if day else r] = {"cassandra": c, "iceberg": i}
    metadata: dict[str, Any] = {
        "cassandra_rows": cassandra_rows,
        "iceberg_rows": iceberg_rows,
        "ranges_checked": sum(len(p) for p in plans.values()),
        "mismatched_ranges": len(mismatches),
    }
    if mismatches:
        metadata["mismatches"] = mismatches
    dates = sorted(d.isoformat() for d in plans if d is not None)
    if dates:
        metadata["export_date"] = ", ".join(dates)
    return AssetCheckResult(passed=not mismatches, metadata=metadata)


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
    cassandra: "CassandraResource | None" = None,
    catalog: "IcebergCatalogResource | None" = None,
    blocking: bool = False,
) -> list[AssetChecksDefinition]:
    """The row-count and schema-drift checks for one table's asset.

    ``cassandra`` and ``catalog``: bind these instances instead of the resource keys. ``blocking``:
    a failed row-count check (an error-severity result) stops assets downstream of the same run.
    """
    key = asset_key or (translator or DagsterCassandraBulkTranslator()).get_asset_spec(table).key
    bound = cassandra is not None and catalog is not None
    resources = set() if bound else {cassandra_resource_key, catalog_resource_key}

    def run(context: AssetCheckExecutionContext, check: Any, *args: Any) -> AssetCheckResult:
        if bound:
            from dagster_cassandra_bulk.asset_decorator import bound_resources

            with bound_resources(cassandra, catalog) as (c, i):
                result: AssetCheckResult = check(table, c, i, *args)
                return result
        found: AssetCheckResult = check(
            table,
            getattr(context.resources, cassandra_resource_key),
            getattr(context.resources, catalog_resource_key),
            *args,
        )
        return found

    @asset_check(
        asset=key,
        name="row_counts_match",
        description="Rows per token range in Cassandra equal rows per range in Iceberg.",
        required_resource_keys=resources,
        blocking=blocking,
    )
    def _row_counts(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return run(context, check_row_counts, run_selection(context, table))

    @asset_check(
        asset=key,
        name="schema_matches",
        description="Cassandra's columns and CQL types equal the Iceberg table's (new/dropped column: warning; "
        "changed type: error).",
        required_resource_keys=resources,
    )
    def _schema(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return run(context, check_schema)

    return [_row_counts, _schema]
