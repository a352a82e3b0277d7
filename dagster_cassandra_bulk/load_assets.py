"""The reverse direction: an Iceberg table (or exported files) loaded into Cassandra, one partition per range.

Materializing partition ``r03-of-16`` of a load asset calls the engine's ``load_table`` with
``only_range="r03-of-16"``: only rows whose partition-key token falls in that range are written.
From an Iceberg table a cassandra-bulk export wrote (it has a ``_cb_range`` column) the engine reads
just that range's rows; from files named ``rNN-of-NN-part-*`` by an export with the same split
count, just that range's files. So the load asset uses the same partitions definition as the export
asset it depends on, and a backfill over both moves a table range by range.

Re-runs are safe: every cell is written with one fixed timestamp per partition run (by default the
source snapshot's commit time), so a retry or a re-materialization rewrites identical cells, never
adds rows. Rejected records (values that do not fit the target's types, null keys) fail the
partition unless ``max_errors`` allows them; they are kept, with their reasons, in the load's log
directory (``rejects.*``, ``errors.log``), which every materialization links to.
"""

import datetime as dt
import glob
import json
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    multi_asset,
)

from cassandra_bulk_core.events import Listener, RangeEvent
from dagster_cassandra_bulk.asset_decorator import DEFAULT_RETRY_POLICY, bound_resources
from dagster_cassandra_bulk.partitions import token_range_partitions
from dagster_cassandra_bulk.translator import DagsterCassandraBulkTranslator, IcebergCassandraTable, table_metadata

if TYPE_CHECKING:
    from dagster_cassandra_bulk.resources import CassandraResource, IcebergCatalogResource

DEFAULT_LOG_DIR = "logs"


class DagsterLoadLogListener(Listener):
    """Load events → the run's log (what is read and the totals; never connection settings)."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self.log.info(
            f"cassandra-bulk load {operation_id}: {info.get('format')} {info.get('source')} -> {info.get('table')}"
        )

    def on_range_failed(self, event: RangeEvent) -> None:
        self.log.error(f"{event.range_id} failed: {event.error}")

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.log.info(
            f"loaded {summary.get('rows_written')} rows of {summary.get('records')} records read, "
            f"{summary.get('errors')} rejected, {summary.get('skipped_other_range')} in other ranges, "
            f"in {summary.get('seconds')}s"
        )


def _latest_export_date(iceberg_table: Any) -> str | None:
    from dagster_cassandra_bulk.checks import _latest_export_date as latest

    day = latest(iceberg_table)
    return day.isoformat() if day is not None else None


def _write_timestamp(
    context: AssetExecutionContext,
    load: IcebergCassandraTable,
    cluster: Any,
    info: Any,
    iceberg_table: Any,
    snapshot_id: int | None,
) -> tuple[str, int | None]:
    """(policy, fixed write time or None for the engine's operation timestamp): the engine's
    restore rule (``cassandra_bulk_core.restore``), shared with the CLI and the Airflow operators."""
    from cassandra_bulk_core.restore import restore_write_time
    from cassandra_bulk_core.types.tree import table_types

    snapshot_ms = None
    if load.is_iceberg and snapshot_id is not None:
        snapshot_ms = int(iceberg_table.snapshot_by_id(snapshot_id).timestamp_ms)
    types = table_types(cluster, info.keyspace, info.table)
    rule = restore_write_time(types, load.write_timestamp, snapshot_ms, load.qualified)
    if rule.notice:
        (context.log.warning if rule.warning else context.log.info)(rule.notice)
    return rule.policy, rule.timestamp


def _row_filter(load: IcebergCassandraTable, export_date: str | None) -> str | None:
    """The Iceberg row filter: the user's, and for a daily export one date's slice.

    Narrowing an exported table to the range's rows (``_cb_range``) is the engine's job (it ANDs
    it with this filter when the export's split count matches); the token check stays exact.
    """
    terms = [f"({load.row_filter})"] if load.row_filter else []
    if export_date is not None:
        terms.append(f"_cb_export_date = '{export_date}'")
    return " AND ".join(terms) or None


def _failed_summary(log_dir: str, operation_id: str) -> dict[str, Any]:
    """The engine's ``summary.json`` of a load that raised (it is written before the error leaves)."""
    found = sorted(glob.glob(os.path.join(glob.escape(log_dir), f"load_*_{operation_id}", "summary.json")))
    if not found:
        return {}
    try:
        with open(found[-1], encoding="utf-8") as f:
            summary: dict[str, Any] = json.load(f)
            return summary
    except (OSError, ValueError):
        return {}


def _partition_metadata(summary: dict[str, Any], write_timestamp: int | None) -> dict[str, Any]:
    """One range's figures. The write time is the fixed one when set (the engine's summary reports its
    operation timestamp, which then only stamps the checkpoint)."""
    return {
        **table_metadata(row_count=summary["rows_written"]),
        "cassandra_bulk/records": summary["records"],
        "cassandra_bulk/rejected": summary["errors"],
        "cassandra_bulk/skipped_other_range": summary["skipped_other_range"],
        "cassandra_bulk/write_timestamp": str(write_timestamp if write_timestamp is not None else summary["timestamp"]),
        "cassandra_bulk/log_dir": MetadataValue.path(summary["log_dir"]),
        "cassandra_bulk/operation_id": summary["operation_id"],
        "cassandra_bulk/duration_s": summary["seconds"],
    }


def load_partitions(
    context: AssetExecutionContext,
    load: IcebergCassandraTable,
    cassandra: "CassandraResource",
    catalog: "IcebergCatalogResource | None",
    log_dir: str = DEFAULT_LOG_DIR,
) -> MaterializeResult:
    """The body of every generated load asset: each selected range → one ``load_table`` call.

    A run holding several ranges (a batch backfill) reads one snapshot for all of them and loads
    them one after the other; each partition's materialization gets its own range's figures.
    """
    from cassandra_bulk_core.load import LoadAborted, load_table
    from cassandra_bulk_core.table import resolve_table

    started = time.monotonic()
    cluster, session = cassandra.get_session()
    info = resolve_table(cluster, load.keyspace, load.table)
    snapshot_id: int | None = None
    export_date: str | None = None
    iceberg_table: Any = None
    if load.is_iceberg:
        if catalog is None:
            raise ValueError(f"{load.qualified}: loading from Iceberg needs an IcebergCatalogResource")
        iceberg_table = catalog.load_table(load.iceberg_identifier)
        snapshot_id = catalog.iceberg_source(load.iceberg_identifier, snapshot_id=load.snapshot_id).snapshot(
            iceberg_table
        )
        if snapshot_id is None:
            raise Failure(
                description=f"Iceberg table {load.iceberg_identifier} has no snapshot yet: nothing to load "
                "(materialize the upstream export first)",
                allow_retries=False,
            )
        if load.daily:
            export_date = (
                load.export_date.isoformat()
                if isinstance(load.export_date, dt.date)
                else load.export_date or _latest_export_date(iceberg_table)
            )
    policy, write_timestamp = _write_timestamp(context, load, cluster, info, iceberg_table, snapshot_id)
    listener = DagsterLoadLogListener(context.log)
    per_partition: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for range_id in sorted(context.partition_keys):
        operation_id = uuid.uuid4().hex[:12]
        options: dict[str, Any] = {
            "source": load.source_name,
            "format": "iceberg" if load.is_iceberg else load.format,
            "only_range": range_id,
            "log_dir": log_dir,
            "max_errors": load.max_errors,
            "write_timestamp": write_timestamp,
            "mapping": dict(load.mapping) if load.mapping is not None else None,
            **dict(load.options),
        }
        if catalog is not None and load.is_iceberg:
            options["iceberg"] = replace(
                catalog.iceberg_source(load.iceberg_identifier, snapshot_id=snapshot_id),
                row_filter=_row_filter(load, export_date),
            )
        try:
            result = load_table(
                cluster, session, info, cassandra.load_options(**options), listener=listener, operation_id=operation_id
            )
        except LoadAborted as exc:
            summary = _failed_summary(log_dir, operation_id)
            raise Failure(
                description=f"{load.qualified} {range_id}: {exc}",
                metadata={
                    "cassandra_bulk/range": range_id,
                    "cassandra_bulk/rejected": summary.get("rejected", -1),
                    "cassandra_bulk/failed_writes": summary.get("failed_writes", -1),
                    "cassandra_bulk/rows_written": summary.get("rows_written", -1),
                    "cassandra_bulk/log_dir": MetadataValue.path(summary.get("log_dir", log_dir)),
                },
                # Records the source cannot give in the target's types fail the same way every time;
                # writes that failed after the driver's retries may succeed on the next attempt.
                allow_retries=bool(summary.get("failed_writes")),
            ) from exc
        summary = result.summary()
        if result.errors:
            message = (
                f"{range_id}: {result.errors} record(s) rejected (max_errors={load.max_errors}); "
                f"records and reasons in {result.log_dir}"
            )
            context.log.warning(message)
            warnings.append(message)
        per_partition[range_id] = _partition_metadata(summary, write_timestamp)
    for key, metadata in per_partition.items():
        context.add_asset_metadata(metadata, partition_key=key)
    shared: dict[str, Any] = {
        **table_metadata(table_name=load.qualified),
        "cassandra_bulk/source": load.source_name,
        "cassandra_bulk/ranges": ", ".join(sorted(per_partition)),
        "cassandra_bulk/rows_by_range": {k: m["dagster/row_count"] for k, m in sorted(per_partition.items())},
        "cassandra_bulk/rejected_by_range": {k: m["cassandra_bulk/rejected"] for k, m in sorted(per_partition.items())},
        "cassandra_bulk/snapshot_id": str(snapshot_id) if snapshot_id is not None else "",
        "cassandra_bulk/write_timestamp_policy": policy,
        "cassandra_bulk/run_duration_s": round(time.monotonic() - started, 3),
    }
    if export_date is not None:
        shared["cassandra_bulk/export_date"] = export_date
    if warnings:
        shared["cassandra_bulk/warnings"] = "\n".join(warnings)
    return MaterializeResult(metadata=shared)


def build_iceberg_cassandra_asset(
    load: IcebergCassandraTable,
    *,
    translator: DagsterCassandraBulkTranslator | None = None,
    retry_policy: RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: BackfillPolicy | None = None,
    cassandra_resource_key: str = "cassandra",
    catalog_resource_key: str = "iceberg",
    log_dir: str = DEFAULT_LOG_DIR,
    pool: str | None = None,
    cassandra: "CassandraResource | None" = None,
    catalog: "IcebergCatalogResource | None" = None,
) -> AssetsDefinition:
    """One asset for the Cassandra table ``load`` writes, partitioned by token range like its source.

    Needs a :class:`~dagster_cassandra_bulk.CassandraResource` (the target cluster) under
    ``cassandra_resource_key`` and, for Iceberg sources, an
    :class:`~dagster_cassandra_bulk.IcebergCatalogResource` under ``catalog_resource_key``.
    ``log_dir``: where each load keeps its checkpoint, rejected records and summary.
    ``pool`` caps how many ranges load at once across runs. Passing ``cassandra`` (and, for
    Iceberg, ``catalog``) binds those instances instead: no resource keys are needed.
    """
    spec = (translator or DagsterCassandraBulkTranslator()).get_load_asset_spec(load)
    name = "cassandra_bulk_load__" + "__".join(spec.key.path)
    bound = cassandra is not None and (catalog is not None or not load.is_iceberg)
    resource_keys = (
        set() if bound else {cassandra_resource_key} | ({catalog_resource_key} if load.is_iceberg else set())
    )

    @multi_asset(
        name=name,
        specs=[spec],
        partitions_def=token_range_partitions(load.range_splits),
        retry_policy=retry_policy,
        backfill_policy=backfill_policy,
        required_resource_keys=resource_keys,
        pool=pool,
    )
    def _asset(context: AssetExecutionContext) -> MaterializeResult:
        if bound:
            with bound_resources(cassandra, catalog if load.is_iceberg else None) as (c, i):
                return c.load_ranges(context, load, catalog=i, log_dir=log_dir)
        target = getattr(context.resources, cassandra_resource_key)
        source = getattr(context.resources, catalog_resource_key) if load.is_iceberg else None
        return target.load_ranges(context, load, catalog=source, log_dir=log_dir)

    return _asset


def iceberg_cassandra_assets(
    loads: Sequence[IcebergCassandraTable],
    *,
    translator: DagsterCassandraBulkTranslator | None = None,
    retry_policy: RetryPolicy | None = DEFAULT_RETRY_POLICY,
    backfill_policy: BackfillPolicy | None = None,
    cassandra_resource_key: str = "cassandra",
    catalog_resource_key: str = "iceberg",
    log_dir: str = DEFAULT_LOG_DIR,
    pool: str | None = None,
) -> list[AssetsDefinition]:
    """One load asset per target table."""
    return [
        build_iceberg_cassandra_asset(
            load,
            translator=translator,
            retry_policy=retry_policy,
            backfill_policy=backfill_policy,
            cassandra_resource_key=cassandra_resource_key,
            catalog_resource_key=catalog_resource_key,
            log_dir=log_dir,
            pool=pool,
        )
        for load in loads
    ]
