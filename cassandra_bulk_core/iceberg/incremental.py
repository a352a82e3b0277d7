"""The ``incremental`` Iceberg mode: after a first full export, each run reads rows with a cell
written since the table's watermark and merges them by primary key (pyiceberg ``upsert``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa

from .. import __version__
from ..events import CompositeListener, RangeEvent
from ..export import ExportOptions, ExportResult, RangeResult
from ..ring import PlannedRange
from ..scan import ScanStats, TableScan
from ..table import TableInfo
from ..types import to_iceberg_batch
from .options import PROP_PREFIX, RANGE_COLUMN, WATERMARK, IcebergOptions, _identifier, _start_details
from .schema import _file_schema, target_arrow_schema

log = logging.getLogger(__name__)


def _export_incremental(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: ExportOptions,
    iceberg: IcebergOptions,
    catalog: Any,
    table: Any,
    events: CompositeListener,
    operation_id: str,
    full_export: Callable[[IcebergOptions], ExportResult],
) -> ExportResult:
    """Merge rows written since the watermark into the table by primary key, range by range.

    The first run (no watermark yet) is a full mirror export. Each later run reads only rows with a
    cell written at or after the watermark (a client-side writetime filter, so every row is still
    scanned) and upserts them; the new watermark is this run's start, set once every range landed.
    A row deleted in Cassandra leaves no writetime to see, so it stays in Iceberg."""
    identifier = _identifier(info, iceberg)
    started_us = int(time.time() * 1_000_000)
    watermark = table.properties.get(WATERMARK)
    if watermark is None:
        result = full_export(replace(iceberg, mode="mirror"))
    else:
        scan = TableScan(cluster, session, info, replace(options.scan, written_after=int(watermark)))
        target = _file_schema(table, target_arrow_schema(scan, replace(iceberg, mode="mirror")))
        plan = options.plan()
        started = time.monotonic()
        events.on_start(operation_id, len(plan), _start_details(info, identifier, "incremental"))
        results = [
            _upsert_range(catalog, identifier, info, iceberg, scan, target, planned, events, operation_id)
            for planned in plan
        ]
        result = ExportResult(
            operation_id, info.keyspace, info.table, f"iceberg:{identifier}", results, time.monotonic() - started
        )
        events.on_finish(result.summary())
    if options.only_ranges is None:  # a partial run must not move the whole table's watermark
        for attempt in _conflict_retries(iceberg.commit_attempts):
            with attempt, catalog.load_table(identifier).transaction() as tx:
                tx.set_properties({WATERMARK: str(started_us)})
    return result


def _upsert_range(
    catalog: Any,
    identifier: str,
    info: TableInfo,
    iceberg: IcebergOptions,
    scan: TableScan,
    target: pa.Schema,
    planned: PlannedRange,
    events: CompositeListener,
    operation_id: str,
) -> RangeResult:
    """Read one range's rows written since the watermark and upsert them by primary key."""
    events.on_range_started(RangeEvent(operation_id, planned.id))
    t0 = time.monotonic()
    stats = ScanStats()
    batches = []
    beyond: dict[str, int] = {}
    for batch in scan.batches(planned, stats):
        batch = batch.append_column(RANGE_COLUMN, pa.repeat(pa.scalar(planned.id), batch.num_rows))
        batches.append(to_iceberg_batch(batch, target, beyond))
        events.on_progress(batch.num_rows, batch.nbytes)
    if beyond:
        log.warning(
            "%s: %d timestamp(s) beyond Iceberg's microsecond range written as null (%s)",
            planned.id,
            sum(beyond.values()),
            ", ".join(f"{c}: {n}" for c, n in sorted(beyond.items())),
        )
    delta = pa.Table.from_batches(batches, schema=target)
    if delta.num_rows:
        props = {
            f"{PROP_PREFIX}operation-id": operation_id,
            f"{PROP_PREFIX}ranges": planned.id,
            f"{PROP_PREFIX}rows": str(delta.num_rows),
            f"{PROP_PREFIX}mode": "incremental",
            f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
            f"{PROP_PREFIX}version": __version__,
        }
        keys = [*info.partition_key, *info.clustering_key]
        for attempt in _conflict_retries(iceberg.commit_attempts):
            with attempt:
                catalog.load_table(identifier).upsert(delta, join_cols=keys, snapshot_properties=props)
    done = RangeResult(planned, delta.num_rows, delta.nbytes, [], time.monotonic() - t0, hosts=dict(stats.hosts))
    events.on_range_finished(RangeEvent(operation_id, planned.id, done.rows, done.bytes, 0, done.seconds))
    return done


def _conflict_retries(attempts: int) -> Any:
    """tenacity attempts that retry optimistic-commit conflicts with backoff and jitter."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

    return Retrying(
        retry=retry_if_exception_type((CommitFailedException, ValidationException)),
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.05, max=3),
        reraise=True,
    )
