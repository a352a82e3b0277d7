"""Rewrite small data files range by range: each range's small files (per partition, e.g. one per
export date in daily mode) read back exactly as they are and written into files of about a target
size, then ONE commit per range that deletes exactly those files and adds the new ones.

Why per range and by exact file list: an export commits a range by deleting everything
``_cb_range = '<id>'`` selects and adding its new files. A compaction commit that named a filter
instead could delete files a concurrent export of the range just added. Naming the files, and
checking before every commit attempt that the range still holds exactly the files we read, makes a
compaction either replace the range's rows by the same rows or not land at all: a concurrent commit
to the range is reported as a ``conflict`` (the rewritten files are deleted, the next run retries),
a concurrent commit to another range is retried (pyiceberg's commit asserts the branch head).

Why our own writer: files roll over when the bytes written reach the target, so every new file but
a range's last is at least the target and a second run finds nothing to do (idempotent).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .. import __version__
from ..errors import ConfigError
from ..io import Storage, StorageOptions
from .options import PROP_PREFIX, RANGE_COLUMN, IcebergCommitFailed

log = logging.getLogger(__name__)

DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024
"""Iceberg's own default ``write.target-file-size-bytes`` is 512 MiB; 128 MiB suits range-sized slices."""
SMALL_FRACTION = 0.75
"""A file under this fraction of the target is small (Iceberg's ``min-file-size-bytes`` default)."""
MAINTENANCE = f"{PROP_PREFIX}maintenance"
COMPACTED_RANGE = f"{PROP_PREFIX}compacted-range"


@dataclass
class RangeRewrite:
    """What happened to one range."""

    range_id: str
    status: str
    """``rewritten``, ``at-target`` (nothing to do) or ``conflict`` (changed meanwhile; not rewritten)."""
    files_before: int = 0
    files_after: int = 0
    rewritten_files: int = 0
    added_files: int = 0
    rows: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    snapshot_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class RewriteResult:
    """A whole compaction run: one entry per range of the table (or of the chosen ones)."""

    table: str
    target_file_size: int
    ranges: list[RangeRewrite] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.ranges if r.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "target_file_size": self.target_file_size,
            "ranges_rewritten": self.count("rewritten"),
            "ranges_at_target": self.count("at-target"),
            "ranges_conflicted": [r.range_id for r in self.ranges if r.status == "conflict"],
            "files_before": sum(r.files_before for r in self.ranges),
            "files_after": sum(r.files_after for r in self.ranges),
            "rows_rewritten": sum(r.rows for r in self.ranges if r.status == "rewritten"),
            "seconds": round(self.seconds, 3),
            "ranges": [r.to_dict() for r in self.ranges if r.status != "at-target"],
        }


def parse_size(text: str | int) -> int:
    """``128MB``, ``64MiB``, ``1g``, ``500000`` → bytes (K/M/G are powers of 1024, as Iceberg's sizes)."""
    if isinstance(text, int):
        value = text
    else:
        s = text.strip().lower().removesuffix("ib").removesuffix("b")
        scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(s[-1:], 1)
        number = s[:-1] if s[-1:] in "kmgt" and s[-1:] else s
        try:
            value = int(float(number) * scale)
        except ValueError:
            raise ConfigError(f"cannot read {text!r} as a file size (e.g. 128MB, 1GB, 500000)") from None
    if value < 1024:
        raise ConfigError(f"target file size {text!r} is below 1 KiB")
    return value


def rewrite_small_files(
    catalog: Any,
    identifier: str,
    target_file_size: int = DEFAULT_TARGET_FILE_SIZE,
    *,
    ranges: Iterable[str] | None = None,
    storage_options: StorageOptions | None = None,
    commit_attempts: int = 60,
    on_range: Callable[[RangeRewrite], None] | None = None,
) -> RewriteResult:
    """Compact an exported table's small data files, one atomic commit per range.

    :param catalog: the pyiceberg catalog holding the table (:func:`load_catalog`).
    :param identifier: ``namespace.table``.
    :param target_file_size: bytes per new file; files under 75 % of it count as small, and a
        partition of a range is rewritten only when it holds at least two small files.
    :param ranges: only these range ids (default: every range in the table).
    :param storage_options: how to write the new files (S3 endpoint, credentials); default local.
    :param commit_attempts: commit retries when other ranges commit at the same time.
    :param on_range: called with each range's outcome as it is decided (progress).
    :returns: per-range outcomes; ranges changed by a concurrent export come back as ``conflict``.
    """
    started = time.monotonic()
    table = catalog.load_table(identifier)
    _check_table(table, identifier)
    result = RewriteResult(identifier, target_file_size)
    known = sorted(_live_files(table))
    wanted = known if ranges is None else list(ranges)
    unknown = [r for r in wanted if r not in known and r not in _plan_ids(known)]  # empty ranges are fine
    if unknown:
        have = f"{known[0]} .. {known[-1]}" if known else "none"
        raise ConfigError(f"range id(s) {', '.join(unknown)} not in Iceberg table {identifier} (it has {have})")
    for range_id in wanted:
        table = catalog.load_table(identifier)  # each range planned from the newest state
        files = _live_files(table, range_id).get(range_id, [])
        outcome = _rewrite_range(catalog, identifier, table, range_id, files, target_file_size, storage_options)
        if outcome.report.status == "rewritten":
            outcome = _commit_range(catalog, identifier, range_id, files, outcome, commit_attempts)
        result.ranges.append(outcome.report)
        if on_range is not None:
            on_range(outcome.report)
    result.seconds = time.monotonic() - started
    log.info(
        "rewrite-small-files %s: %d range(s) rewritten, %d at target, %d conflicted, %d -> %d files",
        identifier,
        result.count("rewritten"),
        result.count("at-target"),
        result.count("conflict"),
        sum(r.files_before for r in result.ranges),
        sum(r.files_after for r in result.ranges),
    )
    return result


def _plan_ids(known: list[str]) -> set[str]:
    """Every range id of the plans the table's ranges come from (``r03-of-16`` → all 16 ids)."""
    import re

    counts = {int(m.group(1)) for r in known if (m := re.fullmatch(r"r\d+-of-(\d+)", r))}
    ids: set[str] = set()
    for count in counts:
        width = len(str(count - 1))
        ids.update(f"r{i:0{width}d}-of-{count}" for i in range(count))
    return ids


def _check_table(table: Any, identifier: str) -> None:
    names = [table.schema().find_column_name(f.source_id) for f in table.spec().fields]
    if RANGE_COLUMN not in names:
        raise ConfigError(
            f"Iceberg table {identifier} is not partitioned by {RANGE_COLUMN} (not a cassandra-bulk export)"
        )
    snapshot = table.current_snapshot()
    if snapshot is None:
        return
    from pyiceberg.manifest import ManifestContent

    if any(m.content == ManifestContent.DELETES for m in snapshot.manifests(table.io)):
        raise ConfigError(
            f"Iceberg table {identifier} has delete files (merge-on-read); rewriting its data files alone "
            "would bring deleted rows back, so it is not compacted"
        )


def _live_files(table: Any, range_id: str | None = None) -> dict[str, list[Any]]:
    """Range id → the current snapshot's data files of that range (of ``range_id`` only, when
    given: manifests whose partition bounds exclude it are not read)."""
    snapshot = table.current_snapshot()
    out: dict[str, list[Any]] = {}
    if snapshot is None:
        return out
    for manifest in snapshot.manifests(table.io):
        names = [f.name for f in table.specs()[manifest.partition_spec_id].fields]
        if RANGE_COLUMN not in names:
            continue
        position = names.index(RANGE_COLUMN)
        if range_id is not None and not _may_hold(manifest, position, range_id):
            continue
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            key = str(entry.data_file.partition[position])
            if range_id is None or key == range_id:
                out.setdefault(key, []).append(entry.data_file)
    return out


def _may_hold(manifest: Any, position: int, range_id: str) -> bool:
    """Whether a manifest's partition summary allows files of ``range_id`` (strings: UTF-8 bounds)."""
    summaries = manifest.partitions or []
    if position >= len(summaries):
        return True
    low, high = summaries[position].lower_bound, summaries[position].upper_bound
    if low is None or high is None:
        return True
    return bool(low.decode() <= range_id <= high.decode())


@dataclass
class _Outcome:
    report: RangeRewrite
    old: list[Any] = field(default_factory=list)
    new: list[Any] = field(default_factory=list)
    storages: list[tuple[Storage, str]] = field(default_factory=list)


def _rewrite_range(
    catalog: Any,
    identifier: str,
    table: Any,
    range_id: str,
    files: list[Any],
    target: int,
    storage_options: StorageOptions | None,
) -> _Outcome:
    """Write the new files of one range (nothing committed yet)."""
    report = RangeRewrite(range_id, "at-target", len(files), len(files))
    report.bytes_before = report.bytes_after = sum(f.file_size_in_bytes for f in files)
    groups = _small_groups(table, files, target)
    outcome = _Outcome(report)
    if not groups:
        return outcome
    attempt = uuid.uuid4().hex[:12]
    try:
        for index, group in enumerate(groups):
            directory = group[0].file_path.rsplit("/", 1)[0]
            storage = Storage(directory, storage_options)
            names = _write_group(table, group, storage, f"{attempt}-part-c{index:03d}", target)
            outcome.storages += [(storage, n) for n in names]
            outcome.old += group
    except BaseException:
        _discard(outcome)
        raise
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    try:
        outcome.new = [parquet_file_to_data_file(table.io, table.metadata, s.uri_of(n)) for s, n in outcome.storages]
    except BaseException:
        _discard(outcome)
        raise
    report.status = "rewritten"
    report.rewritten_files = len(outcome.old)
    report.added_files = len(outcome.new)
    report.files_after = len(files) - len(outcome.old) + len(outcome.new)
    report.rows = sum(f.record_count for f in outcome.old)
    report.bytes_after = report.bytes_before - sum(f.file_size_in_bytes for f in outcome.old)
    report.bytes_after += sum(f.file_size_in_bytes for f in outcome.new)
    if sum(f.record_count for f in outcome.new) != report.rows:  # never commit a changed row count
        _discard(outcome)
        raise IcebergCommitFailed(f"{identifier} {range_id}: rewritten files hold a different number of rows")
    return outcome


def _small_groups(table: Any, files: list[Any], target: int) -> list[list[Any]]:
    """The small files of each partition of a range (same spec, same partition values), where two or more."""
    spec_id = table.spec().spec_id
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for f in files:
        if f.file_size_in_bytes < target * SMALL_FRACTION and f.spec_id == spec_id:
            groups.setdefault(tuple(f.partition), []).append(f)
    return [sorted(g, key=lambda f: f.file_path) for _, g in sorted(groups.items(), key=str) if len(g) >= 2]


def _write_group(table: Any, group: list[Any], storage: Storage, prefix: str, target: int) -> list[str]:
    """Read ``group``'s rows exactly as a scan of the table would and write them into files that
    roll over once ``target`` bytes are written. Returns the new files' names in ``storage``."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
    names: list[str] = []
    state: dict[str, Any] = {}
    row_group = max(64 * 1024, min(target // 2, 32 * 1024 * 1024))  # in-memory bytes per row group

    def close() -> None:
        if state:
            state.pop("writer").close()
            state.pop("cm").__exit__(None, None, None)
            state.clear()

    def flush(pending: list[pa.RecordBatch]) -> None:
        if not pending:
            return
        if not state:
            names.append(f"{prefix}-{len(names):05d}.parquet")
            state["cm"] = cm = storage.open_atomic(names[-1])
            state["stream"] = stream = cm.__enter__()
            state["writer"] = pq.ParquetWriter(stream, schema, compression="zstd", write_statistics=True)
        state["writer"].write_table(pa.Table.from_batches(pending, schema))
        pending.clear()
        if _written(state["stream"]) >= target:
            close()

    pending: list[pa.RecordBatch] = []
    try:
        for batch in _read(table, group):
            pending.append(_conform(batch, schema))
            if sum(b.nbytes for b in pending) >= row_group:
                flush(pending)
        flush(pending)
        close()
    except BaseException as exc:
        if state:
            state["writer"].close()
            state["cm"].__exit__(type(exc), exc, exc.__traceback__)
        for name in names[:-1] if state else names:
            storage.delete(name)
        raise
    return names


def _read(table: Any, group: list[Any]) -> Iterator[pa.RecordBatch]:
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan
    from pyiceberg.table import FileScanTask

    scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    yield from scan.to_record_batches([FileScanTask(f) for f in group])


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """A scan's batch in the writer's schema (a scan may return ``large_`` variants)."""
    if batch.schema.equals(schema):
        return batch
    return batch.select(schema.names).cast(schema)


def _written(stream: Any) -> int:
    try:
        return int(stream.tell())
    except Exception:  # a stream that cannot tell: count what ParquetWriter wrote so far as unknown
        return 0


def _discard(outcome: _Outcome) -> None:
    for storage, name in outcome.storages:
        try:
            storage.delete(name)
        except Exception as exc:  # orphan cleanup removes it later
            log.warning("could not delete rewritten file %s: %s", storage.uri_of(name), exc)


def _commit_range(
    catalog: Any, identifier: str, range_id: str, read: list[Any], outcome: _Outcome, attempts: int
) -> _Outcome:
    """Replace ``outcome.old`` by ``outcome.new`` in one snapshot, if the range still holds exactly
    the files we planned from; retried while other ranges commit."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    expected = {f.file_path for f in read}
    props = {MAINTENANCE: "rewrite-small-files", COMPACTED_RANGE: range_id, f"{PROP_PREFIX}version": __version__}
    for attempt in range(attempts):
        table = catalog.load_table(identifier)
        now = {f.file_path for f in _live_files(table, range_id).get(range_id, [])}
        if now != expected:
            log.warning("%s %s: changed by another commit while being compacted; left as it is", identifier, range_id)
            _discard(outcome)
            outcome.report.status = "conflict"
            outcome.report.files_after = len(now)
            return outcome
        try:
            tx = table.transaction()
            with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
                for f in outcome.old:
                    overwrite.delete_data_file(f)
                for f in outcome.new:
                    overwrite.append_data_file(f)
            committed = tx.commit_transaction()
        except Exception as exc:
            locked = type(exc).__name__ == "OperationalError" and "locked" in str(exc)
            # pyiceberg retries a commit itself, rebased and validated: a file we delete that is gone
            # by then (ValidationException) ends up below as a conflict, like a failed commit.
            retry = isinstance(exc, (CommitFailedException, ValidationException)) or locked
            if not retry or attempt == attempts - 1:
                _discard(outcome)
                raise IcebergCommitFailed(
                    f"compacting {identifier} {range_id} failed: {type(exc).__name__}: {exc}"
                ) from exc
            time.sleep(min(3.0, 0.05 * 2**attempt) * (0.5 + uuid.uuid4().int % 100 / 100))
            continue
        outcome.report.snapshot_id = committed.current_snapshot().snapshot_id
        return outcome
    raise AssertionError("unreachable")
