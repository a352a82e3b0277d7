"""Export a table range by range to files: the engine call behind the CLI and both adapters.

Each planned range is independent: scan → batches → :class:`~.sinks.RangeWriter` → a range
manifest ``_ranges/<range_id>.json`` written last. That manifest is the range's checkpoint: with
``resume`` a range whose manifest matches this export's fingerprint is skipped, and a range that
crashed half-way (no manifest) is simply done again, overwriting its own deterministic part
files. So a crash followed by a resume gives exactly the uninterrupted result, row for row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from . import __version__
from .errors import BulkError, ConfigError
from .events import CompositeListener, Listener, RangeEvent
from .io import Storage, StorageOptions
from .parallel import resolve_processes, run_in_processes, without_events
from .ring import FULL_RING, PlannedRange, TokenRange, plan_ranges
from .scan import ScanOptions, ScanStats, TableScan
from .sinks import PartFile, RangeWriter, SinkOptions
from .table import TableInfo

RANGES_DIR = "_ranges"
MANIFEST = "_manifest.json"


class ExportFailed(BulkError):
    exit_code = 4


@dataclass(frozen=True)
class ExportOptions:
    destination: str
    splits: int = 16
    window: TokenRange = FULL_RING
    only_ranges: tuple[str, ...] | None = None
    """Export just these range ids (an orchestrator's partition or map index)."""
    range_workers: int = 2
    resume: bool = False
    scan: ScanOptions = field(default_factory=ScanOptions)
    sink: SinkOptions = field(default_factory=SinkOptions)
    storage: StorageOptions | None = None

    def plan(self) -> list[PlannedRange]:
        plan = plan_ranges(self.splits, self.window)
        if self.only_ranges is None:
            return plan
        by_id = {r.id: r for r in plan}
        unknown = [r for r in self.only_ranges if r not in by_id]
        if unknown:
            raise ConfigError(f"unknown range id(s) {', '.join(unknown)} for a plan of {self.splits} ranges")
        return [by_id[r] for r in self.only_ranges]


@dataclass
class RangeResult:
    range: PlannedRange
    rows: int = 0
    bytes: int = 0
    files: list[PartFile] = field(default_factory=list)
    seconds: float = 0.0
    skipped: bool = False
    hosts: dict[str, int] = field(default_factory=dict)
    empty_values: dict[str, int] = field(default_factory=dict)
    """Per column, EMPTY values exported as null (reported, see :func:`scan.empty_values_message`)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.range.to_dict(),
            "rows": self.rows,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "skipped": self.skipped,
            "files": [f.to_dict() for f in self.files],
            "hosts": self.hosts,
            **({"empty_values_as_null": self.empty_values} if self.empty_values else {}),
        }


@dataclass
class ExportResult:
    operation_id: str
    keyspace: str
    table: str
    destination: str
    ranges: list[RangeResult]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.ranges)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.ranges)

    @property
    def files(self) -> list[str]:
        return [f.path for r in self.ranges for f in r.files]

    def summary(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "table": f"{self.keyspace}.{self.table}",
            "destination": self.destination,
            "ranges": len(self.ranges),
            "ranges_skipped": sum(1 for r in self.ranges if r.skipped),
            "rows": self.rows,
            "bytes": self.bytes,
            "files": len(self.files),
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds, 1) if self.seconds else None,
            **({"empty_values_as_null": self.empty_values_as_null} if self.empty_values_as_null else {}),
        }

    @property
    def empty_values_as_null(self) -> int:
        return sum(sum(r.empty_values.values()) for r in self.ranges)


def fingerprint(table: TableInfo, scan: TableScan, options: ExportOptions) -> str:
    """What must not change between an interrupted run and its resume (like DSBulk's checkpoint rule)."""
    doc = {
        "table": f"{table.keyspace}.{table.table}",
        "columns": scan.schema.names,
        "splits": options.splits,
        "window": options.window.to_dict(),
        "sink": options.sink.fingerprint(),
        "written_after": options.scan.written_after,
        "written_before": options.scan.written_before,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def export_table(
    cluster: Any,
    session: Any,
    table: TableInfo,
    options: ExportOptions,
    listener: Listener | None = None,
    operation_id: str | None = None,
    *,
    processes: int = 1,
    connection: Any = None,
) -> ExportResult:
    """Export every planned range (or ``options.only_ranges``) of ``table`` to ``options.destination``.

    ``processes`` > 1 spreads the ranges over that many worker processes (see :mod:`.parallel`;
    ``connection``, the :class:`~.connection.ConnectionConfig`, lets each one connect); 1 runs them
    here, ``options.range_workers`` at a time; 0 means one process per core."""
    operation_id = operation_id or uuid.uuid4().hex[:12]
    events = CompositeListener([listener] if listener else [])
    storage = Storage(options.destination, options.storage)
    scan = TableScan(cluster, session, table, options.scan)
    plan = options.plan()
    fp = fingerprint(table, scan, options)
    _guard_destination(storage, fp, options)
    started = time.monotonic()
    events.on_start(
        operation_id,
        len(plan),
        {"table": f"{table.keyspace}.{table.table}", "destination": storage.uri, "format": options.sink.format},
    )

    def one(planned: PlannedRange) -> RangeResult:
        return export_range(scan, storage, planned, options, fp, events, operation_id)

    workers = resolve_processes(processes, len(plan))
    if workers > 1:
        runner = partial(_range_runner, without_events(options), fp, operation_id)
        results, failures = run_in_processes(
            plan,
            runner,
            processes=workers,
            connection=connection,
            table=table,
            events=events,
            cancel=options.scan.cancel,
            operation_id=operation_id,
        )
    else:
        results, failures = run_ranges(plan, one, options.range_workers, "export")
    result = ExportResult(operation_id, table.keyspace, table.table, storage.uri, results, time.monotonic() - started)
    if failures:
        events.on_finish({**result.summary(), "failed_ranges": len(failures)})
        first = failures[0]
        raise ExportFailed(
            f"{failed_ranges(failures, len(plan))}; finished ranges are kept and `--resume` "
            f"continues from them. First error: {first}"
        ) from first
    if options.only_ranges is None:
        # The whole plan ran here; runs of single ranges (orchestrators) leave it to their range markers.
        storage.write_bytes(MANIFEST, json.dumps(_manifest(table, scan, options, fp, result), indent=2).encode())
    events.on_finish(result.summary())
    return result


T = TypeVar("T")


def run_ranges(
    plan: list[PlannedRange], one: Callable[[PlannedRange], T], workers: int, name: str
) -> tuple[list[T], list[BaseException]]:
    """Run ``one`` for every range, ``workers`` at a time; every range is tried even when others fail,
    so finished ranges are kept for a resume or a re-run of just the failed ones."""
    results: list[T] = []
    failures: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name) as pool:
        for planned, fut in [(r, pool.submit(one, r)) for r in plan]:
            try:
                results.append(fut.result())
            except BaseException as exc:
                with contextlib.suppress(AttributeError):  # the range it failed, for the summary line
                    if not getattr(exc, "range_id", ""):
                        exc.range_id = planned.id  # type: ignore[attr-defined]
                failures.append(exc)
    return results, failures


def failed_ranges(failures: list[BaseException], planned: int, shown: int = 24) -> str:
    """``"3 of 16 range(s) failed (r02-of-16, r07-of-16, r11-of-16)"``: the ids an operator passes to
    ``--ranges`` (or clears as map indexes / partitions) to redo just those. A dead worker's failure
    names its ranges in its own message."""
    ids = sorted({rid for exc in failures if (rid := getattr(exc, "range_id", ""))})
    text = f"{len(failures)} of {planned} range(s) failed"
    if ids:
        more = f", and {len(ids) - shown} more" if len(ids) > shown else ""
        text += f" ({', '.join(ids[:shown])}{more})"
    return text


def _range_runner(
    options: ExportOptions, fp: str, operation_id: str, cluster: Any, session: Any, table: TableInfo, events: Listener
) -> Callable[[PlannedRange], RangeResult]:
    """A worker process's range function (built once per worker, see :func:`.parallel.run_in_processes`)."""
    storage = Storage(options.destination, options.storage)
    scan = TableScan(cluster, session, table, options.scan)

    def one(planned: PlannedRange) -> RangeResult:
        return export_range(scan, storage, planned, options, fp, events, operation_id)

    return one


def export_range(
    scan: TableScan,
    storage: Storage,
    planned: PlannedRange,
    options: ExportOptions,
    fp: str,
    events: Listener,
    operation_id: str,
) -> RangeResult:
    """Export one range; its manifest, written last, marks it done."""
    marker = f"{RANGES_DIR}/{planned.id}.json"
    if options.resume:
        previous = storage.read_bytes(marker)
        if previous is not None and json.loads(previous).get("fingerprint") == fp:
            doc = json.loads(previous)
            result = RangeResult(
                planned, doc["rows"], doc["bytes"], [PartFile(**f) for f in doc["files"]], 0.0, skipped=True
            )
            events.on_range_finished(
                RangeEvent(operation_id, planned.id, result.rows, result.bytes, len(result.files), 0.0, skipped=True)
            )
            return result
    events.on_range_started(RangeEvent(operation_id, planned.id))
    if storage.exists(marker):
        storage.delete(marker)  # the range is being rewritten: not done until the new marker lands
    started = time.monotonic()
    stats = ScanStats()
    writer = RangeWriter(storage, planned.id, scan.schema, options.sink)
    try:
        for batch in scan.batches(planned, stats):
            writer.write(batch)
            events.on_progress(batch.num_rows, batch.nbytes)
        parts = writer.close()
    except BaseException as exc:
        writer.abort(exc)
        events.on_range_failed(RangeEvent(operation_id, planned.id, stats.rows, error=str(exc)))
        raise
    result = RangeResult(
        planned,
        sum(p.rows for p in parts),
        sum(p.bytes for p in parts),
        parts,
        time.monotonic() - started,
        hosts=dict(stats.hosts),
        empty_values=dict(stats.empty_values),
    )
    doc = {**result.to_dict(), "fingerprint": fp, "operation_id": operation_id, "version": __version__}
    storage.write_bytes(marker, json.dumps(doc, indent=2).encode())
    events.on_range_finished(
        RangeEvent(operation_id, planned.id, result.rows, result.bytes, len(parts), result.seconds)
    )
    return result


def _guard_destination(storage: Storage, fp: str, options: ExportOptions) -> None:
    """Refuse to mix two different exports in one destination (their part files would both be read)."""
    for path in storage.list(RANGES_DIR):
        doc = json.loads(storage.read_bytes(path) or b"{}")
        if doc.get("fingerprint") not in (None, fp):
            raise ConfigError(
                f"{storage.uri} already holds an export with different settings (table, columns, splits, "
                "window or format); use an empty destination"
            )
        break


def _manifest(
    table: TableInfo, scan: TableScan, options: ExportOptions, fp: str, result: ExportResult
) -> dict[str, Any]:
    return {
        "version": __version__,
        "fingerprint": fp,
        **result.summary(),
        "splits": options.splits,
        "window": options.window.to_dict(),
        "format": options.sink.format,
        "schema": [
            {"name": f.name, "cql_type": (f.metadata or {}).get(b"cql_type", b"").decode(), "arrow_type": str(f.type)}
            for f in scan.schema
        ],
        "ranges": [r.to_dict() for r in sorted(result.ranges, key=lambda r: r.range.index)],
    }
