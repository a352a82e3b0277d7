"""Asset factory: one Dagster asset per Cassandra table, one partition per token range.

Materializing partition ``r03-of-16`` calls the engine's ``export_to_iceberg`` for exactly that
range: the engine streams it into new Parquet files and commits them in one transaction that also
deletes the range's previous rows, so a retry or a re-run replaces the range instead of
duplicating it. No IO manager is involved: a range is never held in memory as one table.

Backfills: by default Dagster launches one run per partition (best fault isolation, and the run
launcher spreads ranges over workers). Pass ``backfill_policy=BackfillPolicy.multi_run(k)`` (or
``backfill_policy_for(k)``) to export k ranges per run: fewer runs, and the engine works on
``range_workers`` of them at once, each still committed on its own. ``BackfillPolicy.single_run()``
sends a whole selection to one run; ``dagster asset materialize --partition-range a...b`` accepts
only that policy.
"""

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    Failure,
    Jitter,
    MaterializeResult,
    MultiPartitionKey,
    RetryPolicy,
    multi_asset,
)

from cassandra_bulk_core.events import Listener, RangeEvent
from dagster_cassandra_bulk.partitions import (
    DATE_DIMENSION,
    RANGE_DIMENSION,
    daily_token_range_partitions,
    token_range_partitions,
)
from dagster_cassandra_bulk.translator import (
    CassandraTable,
    DagsterCassandraBulkTranslator,
    column_schema_from_cql,
    table_metadata,
)

if TYPE_CHECKING:
    from dagster import PartitionsDefinition

    from dagster_cassandra_bulk.resources import CassandraResource, IcebergCatalogResource

DEFAULT_RETRY_POLICY = RetryPolicy(max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
"""Retrying a range is always safe (its commit replaces, never appends), so retry by default."""

TABLE_METADATA_KEY = "cassandra_bulk/table"


def backfill_policy_for(ranges_per_run: int | str | None) -> BackfillPolicy | None:
    """``1``/``None``: one run per range (Dagster's default); ``k``: batches of k; ``"all"``: one run.

    Why one run per range by default: a failed range is retried or re-run alone while the other
    ranges' commits stand, and a run launcher can place each range on its own worker.
    """
    if ranges_per_run in (None, 1):
        return None
    if ranges_per_run == "all":
        return BackfillPolicy.single_run()
    if isinstance(ranges_per_run, int) and ranges_per_run > 1:
        return BackfillPolicy.multi_run(max_partitions_per_run=ranges_per_run)
    raise ValueError(f"ranges_per_run must be a positive int or 'all', got {ranges_per_run!r}")


class DagsterLogListener(Listener):
    """Engine events → the run's log (range ids, counts, timings; never connection settings)."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self.log.info(f"cassandra-bulk {operation_id}: exporting {total_ranges} range(s) of {info.get('table')}")

    def on_range_finished(self, event: RangeEvent) -> None:
        self.log.info(
            f"range {event.range_id}: {event.rows} rows, {event.bytes} bytes, {event.files} file(s) "
            f"committed in {event.seconds:.1f}s"
        )

    def on_range_failed(self, event: RangeEvent) -> None:
        self.log.error(f"range {event.range_id} failed: {event.error}")


def partitions_for(table: CassandraTable) -> "PartitionsDefinition":
    if table.mode == "daily":
        assert table.start_date is not None  # checked by CassandraTable
        return daily_token_range_partitions(table.splits, table.start_date)
    return token_range_partitions(table.splits)


def _selected(context: AssetExecutionContext, table: CassandraTable) -> dict[dt.date | None, dict[str, str]]:
    """Range id → partition key to export, grouped by export date (``None`` in mirror mode)."""
    out: dict[dt.date | None, dict[str, str]] = {}
    for key in context.partition_keys:
        if table.mode == "daily":
            dims = key.keys_by_dimension if isinstance(key, MultiPartitionKey) else dict(_split_multi(key))
            day: dt.date | None = dt.date.fromisoformat(dims[DATE_DIMENSION])
            range_id = dims[RANGE_DIMENSION]
        else:
            day, range_id = None, key
        out.setdefault(day, {})[range_id] = key
    return out


def _split_multi(key: str) -> Iterable[tuple[str, str]]:
    date, range_id = key.split("|")  # dimensions are ordered by name: date, range
    return ((DATE_DIMENSION, date), (RANGE_DIMENSION, range_id))


def snapshot_of(table: Any, operation_id: str) -> int | None:
    """The newest snapshot this export committed (the engine's rule; a seam tests can patch)."""
    from cassandra_bulk_core.iceberg import operation_snapshot_id

    return operation_snapshot_id(table, operation_id)


def _range_metadata(result: Any) -> dict[str, Any]:
    """One range's figures (an engine ``RangeResult``); tokens as text so no JSON consumer rounds them."""
    return {
        **table_metadata(row_count=result.rows),
        "cassandra_bulk/bytes": result.bytes,
        "cassandra_bulk/files": len(result.files),
        "cassandra_bulk/token_start": str(result.range.tokens.start),
        "cassandra_bulk/token_end": str(result.range.tokens.end),
    }


def export_partitions(
    context: AssetExecutionContext,
    table: CassandraTable,
    cassandra: "CassandraResource",
    catalog: "IcebergCatalogResource",
    range_workers: int = 2,
) -> MaterializeResult:
    """:func:`_export_partitions`, with engine errors that can never pass on a retry (bad options,
    bad data: ``BulkError.transient`` false) raised as ``Failure(allow_retries=False)``, so the
    run's retry policy does not repeat them for every partition."""
    from cassandra_bulk_core.errors import BulkError

    try:
        return _export_partitions(context, table, cassandra, catalog, range_workers)
    except BulkError as exc:
        if exc.transient:
            raise
        raise Failure(description=f"{table.qualified}: {exc}", allow_retries=False) from exc


def _export_partitions(
    context: AssetExecutionContext,
    table: CassandraTable,
    cassandra: "CassandraResource",
    catalog: "IcebergCatalogResource",
    range_workers: int = 2,
) -> MaterializeResult:
    """The body of every generated asset: the selected partitions → ``export_to_iceberg`` calls.

    A run holding several partitions (a batch or single-run backfill) exports them in one engine
    call per export date; each range is still committed on its own. Each partition's
    materialization gets its own range's rows, bytes, files and token bounds; what the run shares
    (snapshot, schema, duration, the run's rows per range) is reported once for all of them.
    """
    from cassandra_bulk_core.export import ExportOptions
    from cassandra_bulk_core.iceberg import export_to_iceberg
    from cassandra_bulk_core.table import resolve_table

    started = time.monotonic()
    cluster, session = cassandra.get_session()
    info = resolve_table(cluster, table.keyspace, table.table)
    ice_catalog = catalog.load_catalog()
    listener = DagsterLogListener(context.log)
    operations: list[str] = []
    per_partition: dict[str, dict[str, Any]] = {}
    for day, keys_by_range in sorted(_selected(context, table).items(), key=lambda kv: str(kv[0])):
        options = ExportOptions(
            destination="",
            splits=table.splits,
            only_ranges=tuple(keys_by_range),
            range_workers=range_workers,
            scan=cassandra.scan_options(table.columns),
        )
        ice = catalog.iceberg_options(
            table=table.iceberg_table,
            mode=table.mode,
            export_date=day,
            partition_by=table.partition_by,
            sort_by=table.sort_by,
            table_properties=table.table_properties,
        )
        result = export_to_iceberg(cluster, session, info, options, ice, listener=listener, catalog=ice_catalog)
        operations.append(result.operation_id)
        for r in result.ranges:
            per_partition[keys_by_range[r.range.id]] = _range_metadata(r)
    for key, metadata in per_partition.items():
        context.add_asset_metadata(metadata, partition_key=key)
    iceberg_table = ice_catalog.load_table(table.iceberg_identifier)
    snapshot = snapshot_of(iceberg_table, operations[-1]) if operations else None
    return MaterializeResult(
        metadata={
            **table_metadata(table_name=table.iceberg_identifier, column_schema=column_schema_from_cql(info.metadata)),
            "cassandra_bulk/source": table.qualified,
            "cassandra_bulk/mode": table.mode,
            "cassandra_bulk/ranges": ", ".join(sorted(per_partition)),
            "cassandra_bulk/rows_by_range": {k: m["dagster/row_count"] for k, m in sorted(per_partition.items())},
            "cassandra_bulk/snapshot_id": str(snapshot) if snapshot is not None else "",
            "cassandra_bulk/operation_id": ", ".join(operations),
            "cassandra_bulk/duration_s": round(time.monotonic() - started, 3),
        }
    )


def table_of(context: AssetExecutionContext) -> CassandraTable:
    """The table ``@cassandra_iceberg_assets`` declared for the asset being materialized."""
    spec = context.assets_def.specs_by_key[context.asset_key]
    table = spec.metadata.get(TABLE_METADATA_KEY)
    if not isinstance(table, CassandraTable):
        raise ValueError(
            f"{context.asset_key.to_user_string()} was not built by @cassandra_iceberg_assets: "
            "pass the CassandraTable to export_ranges(context, table, ...)"
        )
    return table


def cassandra_iceberg_assets(
    *,
    table: CassandraTable,
    translator: DagsterCassandraBulkTranslator | None = None,
    name: str | None = None,
    retry_policy: RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: BackfillPolicy | None = None,
    pool: str | None = None,
    required_resource_keys: set[str] | None = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]:
    """Decorates a body that exports ``table``'s token ranges: one asset, one partition per range.

    Only builds the spec (from ``translator``), the partitions and the policies; the body does the
    work, usually through :meth:`CassandraResource.export_ranges`, so it can wrap or extend it.

    Args:
        table: the Cassandra table and how it is exported (split count, mode, Iceberg table).
        translator: maps the table to the asset's spec (key, group, description, ...).
        name: the op's name; default ``cassandra_bulk__<asset key>``.
        retry_policy: default :data:`DEFAULT_RETRY_POLICY` (a range's commit replaces, so retries are safe).
        backfill_policy: ranges per run (:func:`backfill_policy_for`); default one run per range.
        pool: a Dagster concurrency pool capping ranges exported at once across runs.

    Example::

        @cassandra_iceberg_assets(table=CassandraTable("shop", "orders", splits=16))
        def orders(context: AssetExecutionContext, cassandra: CassandraResource, iceberg: IcebergCatalogResource):
            context.log.info("before")
            return cassandra.export_ranges(context, catalog=iceberg)
    """
    spec = (translator or DagsterCassandraBulkTranslator()).get_asset_spec(table)
    spec = spec.merge_attributes(metadata={TABLE_METADATA_KEY: table})
    return multi_asset(
        name=name or "cassandra_bulk__" + "__".join(spec.key.path),
        specs=[spec],
        partitions_def=partitions_for(table),
        retry_policy=retry_policy,
        backfill_policy=backfill_policy,
        required_resource_keys=required_resource_keys,
        pool=pool,
    )


def build_cassandra_iceberg_asset(
    table: CassandraTable,
    *,
    translator: DagsterCassandraBulkTranslator | None = None,
    retry_policy: RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: BackfillPolicy | None = None,
    cassandra_resource_key: str = "cassandra",
    catalog_resource_key: str = "iceberg",
    range_workers: int = 2,
    pool: str | None = None,
    cassandra: "CassandraResource | None" = None,
    catalog: "IcebergCatalogResource | None" = None,
) -> AssetsDefinition:
    """One partitioned asset for ``table`` (partition = token range, or date x range in daily mode).

    Needs two resources: a :class:`~dagster_cassandra_bulk.CassandraResource` under
    ``cassandra_resource_key`` and an :class:`~dagster_cassandra_bulk.IcebergCatalogResource`
    under ``catalog_resource_key``, unless both are passed as ``cassandra`` and ``catalog``: the
    asset then uses those instances (initialized per run, torn down after) and needs no resource
    key, so several clusters or catalogs can live in one code location. ``pool`` caps how many
    ranges export at once across runs.
    """
    bound = cassandra is not None and catalog is not None
    keys = set() if bound else {cassandra_resource_key, catalog_resource_key}

    @cassandra_iceberg_assets(
        table=table,
        translator=translator,
        retry_policy=retry_policy,
        backfill_policy=backfill_policy,
        pool=pool,
        required_resource_keys=keys,
    )
    def _asset(context: AssetExecutionContext) -> MaterializeResult:
        if cassandra is not None and catalog is not None:
            with bound_resources(cassandra, catalog) as (c, i):
                return c.export_ranges(context, table, catalog=i, range_workers=range_workers)
        c = getattr(context.resources, cassandra_resource_key)
        return c.export_ranges(
            context, table, catalog=getattr(context.resources, catalog_resource_key), range_workers=range_workers
        )

    return _asset


@contextlib.contextmanager
def bound_resources(*resources: Any) -> Iterator[tuple[Any, ...]]:
    """Resource instances a definition closes over, initialized like Dagster would (``EnvVar``s
    resolved now, at run time) and torn down on exit."""
    with contextlib.ExitStack() as stack:
        yield tuple(
            stack.enter_context(r.process_config_and_initialize_cm()) if r is not None else None for r in resources
        )


def build_cassandra_iceberg_assets(
    tables: Sequence[CassandraTable],
    *,
    translator: DagsterCassandraBulkTranslator | None = None,
    retry_policy: RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: BackfillPolicy | None = None,
    cassandra_resource_key: str = "cassandra",
    catalog_resource_key: str = "iceberg",
    range_workers: int = 2,
    pool: str | None = None,
) -> list[AssetsDefinition]:
    """One asset per table (each table keeps its own split count, so each has its own partitions)."""
    return [
        build_cassandra_iceberg_asset(
            t,
            translator=translator,
            retry_policy=retry_policy,
            backfill_policy=backfill_policy,
            cassandra_resource_key=cassandra_resource_key,
            catalog_resource_key=catalog_resource_key,
            range_workers=range_workers,
            pool=pool,
        )
        for t in tables
    ]
