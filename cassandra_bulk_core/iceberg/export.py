"""Export to Apache Iceberg with exactly-once per-range commits: the engine call behind the CLI and
both adapters.

Modes: ``mirror`` (each range replaces its slice), ``daily`` (rows also carry ``_cb_export_date``; a
run replaces only its date's slice of each range), ``single`` (stage every range, then one commit
replaces the whole table, for atomic whole-table exports), ``incremental`` (rows with a cell written
since the table's watermark, merged by primary key; deletes in Cassandra are not seen this way).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pyarrow as pa

from .. import __version__
from ..errors import ConfigError
from ..events import CompositeListener, Listener, RangeEvent
from ..export import ExportOptions, ExportResult, RangeResult, failed_ranges, run_ranges
from ..parallel import resolve_processes, run_in_processes, without_events
from ..ring import PlannedRange
from ..scan import TableScan
from ..sinks import PartFile
from ..table import TableInfo
from .catalog import catalog_properties, ensure_table, load_catalog, storage_options_from_catalog
from .commit import _data_dir, _range_filter, commit_files, keep_only_counts, new_attempt, write_range_files
from .incremental import _export_incremental
from .maintenance import remove_range_leftovers
from .options import PROP_PREFIX, IcebergCommitFailed, IcebergOptions, _identifier, _start_details
from .resume import committed_ranges, resume_properties
from .schema import _file_schema, target_arrow_schema

log = logging.getLogger(__name__)


def export_to_iceberg(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: ExportOptions,
    iceberg: IcebergOptions,
    listener: Listener | None = None,
    operation_id: str | None = None,
    catalog: Any = None,
    *,
    processes: int = 1,
    connection: Any = None,
) -> ExportResult:
    """Export the planned ranges (or ``options.only_ranges``) into an Iceberg table.

    ``processes`` > 1: the ranges are written and committed by that many worker processes (each
    commit is per range and exactly once, as here), given ``connection`` (see :mod:`..parallel`);
    incremental runs after the first stay in this process."""
    operation_id = operation_id or uuid.uuid4().hex[:12]
    events = CompositeListener([listener] if listener else [])
    catalog = catalog or load_catalog(iceberg)
    identifier = _identifier(info, iceberg)
    scan = TableScan(cluster, session, info, options.scan)
    table = ensure_table(catalog, info, scan, iceberg)
    if iceberg.mode == "incremental":
        if options.resume:
            raise ConfigError("--resume applies to Iceberg modes mirror and daily, not incremental (it merges)")

        def full_export(mirror: IcebergOptions) -> ExportResult:  # the first incremental run
            return export_to_iceberg(
                cluster,
                session,
                info,
                options,
                mirror,
                events,
                operation_id,
                catalog,
                processes=processes,
                connection=connection,
            )

        return _export_incremental(
            cluster, session, info, options, iceberg, catalog, table, events, operation_id, full_export
        )
    target = _file_schema(table, target_arrow_schema(scan, iceberg))
    storage_options = options.storage or storage_options_from_catalog(catalog_properties(iceberg))
    plan = options.plan()
    started = time.monotonic()
    events.on_start(operation_id, len(plan), _start_details(info, identifier, iceberg.mode))
    base_props = {**_base_properties(info, iceberg, operation_id), **resume_properties(options, iceberg)}
    skipped = _skip_committed(table, info, options, iceberg, plan, events, operation_id) if options.resume else []
    todo = [r for r in plan if r.id not in {s.range.id for s in skipped}]
    order = {r.id: i for i, r in enumerate(plan)}
    context = _RangeContext(
        table,
        scan,
        catalog,
        identifier,
        iceberg,
        target,
        storage_options,
        options.sink,
        base_props,
        events,
        operation_id,
    )
    done, failures = _run(context, todo, info, options, processes, connection)
    summary_result = ExportResult(
        operation_id,
        info.keyspace,
        info.table,
        f"iceberg:{identifier}",
        sorted([*skipped, *(result for result, _ in done)], key=lambda r: order[r.range.id]),
        time.monotonic() - started,
    )
    if failures:
        events.on_finish({**summary_result.summary(), "failed_ranges": len(failures)})
        raise IcebergCommitFailed(
            f"{failed_ranges(failures, len(plan))}; committed ranges stay, re-run the failed ones. "
            f"First error: {failures[0]}"
        ) from failures[0]
    if iceberg.mode == "single":
        staged = [path for _, paths in done for path in paths]
        _commit_single(catalog, identifier, options, iceberg, plan, staged, base_props, summary_result.rows)
    events.on_finish(summary_result.summary())
    return summary_result


def _run(
    context: _RangeContext,
    todo: list[PlannedRange],
    info: TableInfo,
    options: ExportOptions,
    processes: int,
    connection: Any,
) -> tuple[list[Any], list[BaseException]]:
    """Write and commit ``todo`` here (range threads) or in worker processes."""
    workers = resolve_processes(processes, len(todo))
    if workers <= 1:
        return run_ranges(todo, partial(_export_range, context), options.range_workers, "iceberg")
    fixed = replace(context.iceberg, export_date=context.iceberg.date)  # every worker files rows under one date
    runner = partial(
        _range_runner, without_events(options), fixed, context.identifier, context.base_props, context.operation_id
    )
    return run_in_processes(
        todo,
        runner,
        processes=workers,
        connection=connection,
        table=info,
        events=context.events,
        cancel=options.scan.cancel,
        operation_id=context.operation_id,
    )


@dataclass(frozen=True)
class _RangeContext:
    """What exporting one range needs (built once per process)."""

    table: Any
    scan: TableScan
    catalog: Any
    identifier: str
    iceberg: IcebergOptions
    target: pa.Schema
    storage_options: Any
    sink: Any
    base_props: dict[str, str]
    events: Listener
    operation_id: str


def _skip_committed(
    table: Any,
    info: TableInfo,
    options: ExportOptions,
    iceberg: IcebergOptions,
    plan: list[PlannedRange],
    events: Listener,
    operation_id: str,
) -> list[RangeResult]:
    """``--resume``: the planned ranges already committed by this export kind, reported as skipped."""
    done = committed_ranges(table, f"{info.keyspace}.{info.table}", options, iceberg, plan)
    results = []
    for planned in plan:
        if planned.id in done:
            results.append(RangeResult(planned, done[planned.id], 0, [], 0.0, skipped=True))
            events.on_range_finished(RangeEvent(operation_id, planned.id, done[planned.id], 0, 0, 0.0, skipped=True))
    if results:
        log.info("resume: %d of %d range(s) already committed, skipped", len(results), len(plan))
    return results


def _export_range(ctx: _RangeContext, planned: PlannedRange) -> tuple[RangeResult, list[str]]:
    """Write one range's files and (except in single mode) commit them, exactly once."""
    events, operation_id, iceberg = ctx.events, ctx.operation_id, ctx.iceberg
    events.on_range_started(RangeEvent(operation_id, planned.id))
    t0 = time.monotonic()
    attempt = new_attempt()
    try:
        far: set[str] = set()
        paths, rows, size, hosts = write_range_files(
            ctx.table, ctx.scan, planned, iceberg, ctx.target, ctx.storage_options, events, ctx.sink, far, attempt
        )
        if far:
            keep_only_counts(ctx.catalog, ctx.identifier, far)
        if iceberg.mode != "single":
            props = {**ctx.base_props, f"{PROP_PREFIX}ranges": planned.id, f"{PROP_PREFIX}rows": str(rows)}
            table = commit_files(
                ctx.catalog, ctx.identifier, paths, _range_filter(planned, iceberg), props, iceberg.commit_attempts
            )
            if getattr(ctx.catalog, "lists_files", True):  # S3 Tables' buckets refuse listing (s3tables.py)
                _clean_leftovers(table, planned, iceberg, attempt, ctx.storage_options)
    except BaseException as exc:
        events.on_range_failed(RangeEvent(operation_id, planned.id, error=str(exc)))
        raise
    files = [PartFile(p, 0, 0) for p in paths]
    result = RangeResult(planned, rows, size, files, time.monotonic() - t0, hosts=hosts)
    events.on_range_finished(RangeEvent(operation_id, planned.id, rows, size, len(paths), result.seconds))
    return result, paths


def _clean_leftovers(
    table: Any, planned: PlannedRange, iceberg: IcebergOptions, attempt: str, storage_options: Any
) -> None:
    """After the commit: delete what dead earlier attempts of this range left (never fails the range)."""
    try:
        table = table.refresh()
        removed = remove_range_leftovers(
            table, _data_dir(table, planned, iceberg), attempt, iceberg.stale_after, storage_options
        )
    except Exception as exc:  # housekeeping only: iceberg-maintenance removes them later
        log.warning("%s: could not remove leftover files of earlier attempts: %s", planned.id, exc)
        return
    if removed:
        log.info("%s: removed %d leftover file(s) of earlier attempts", planned.id, len(removed))


def _range_runner(
    options: ExportOptions,
    iceberg: IcebergOptions,
    identifier: str,
    base_props: dict[str, str],
    operation_id: str,
    cluster: Any,
    session: Any,
    info: TableInfo,
    events: Listener,
) -> Any:
    """A worker process's range function: its own catalog, table and scan (the parent created the table)."""
    catalog = load_catalog(iceberg)
    table = catalog.load_table(identifier)
    scan = TableScan(cluster, session, info, options.scan)
    target = _file_schema(table, target_arrow_schema(scan, iceberg))
    storage_options = options.storage or storage_options_from_catalog(catalog_properties(iceberg))
    context = _RangeContext(
        table,
        scan,
        catalog,
        identifier,
        iceberg,
        target,
        storage_options,
        options.sink,
        base_props,
        events,
        operation_id,
    )
    return partial(_export_range, context)


def _base_properties(info: TableInfo, iceberg: IcebergOptions, operation_id: str) -> dict[str, str]:
    """Snapshot summary properties every commit of this operation carries."""
    props = {
        f"{PROP_PREFIX}operation-id": operation_id,
        f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
        f"{PROP_PREFIX}version": __version__,
        f"{PROP_PREFIX}mode": iceberg.mode,
    }
    if iceberg.mode == "daily":
        props[f"{PROP_PREFIX}export-date"] = iceberg.date.isoformat()
    return props


def _commit_single(
    catalog: Any,
    identifier: str,
    options: ExportOptions,
    iceberg: IcebergOptions,
    plan: list[PlannedRange],
    staged: list[str],
    base_props: dict[str, str],
    rows: int,
) -> None:
    """Single mode: one atomic replace of everything this run covers (the whole table, or the chosen ranges)."""
    props = {**base_props, f"{PROP_PREFIX}ranges": f"{len(plan)} ranges", f"{PROP_PREFIX}rows": str(rows)}
    subset = None if options.only_ranges is None else [r.id for r in plan]
    delete = _range_filter(None, iceberg, subset)
    commit_files(catalog, identifier, staged, delete, props, iceberg.commit_attempts)


# -- incremental -----------------------------------------------------------------------------------
