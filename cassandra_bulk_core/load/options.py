"""What a load is asked to do (:class:`LoadOptions`, ``max_errors``) and what it did (:class:`LoadResult`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BulkError, ConfigError
from ..io import StorageOptions
from ..ring import PlannedRange, TokenRange, range_by_id
from ..sources import (
    IcebergSource,
)
from ..text_codecs import CsvOptions

BATCH_MODES = ("auto", "partition", "replica-set", "disabled")


MAX_BATCH_PARTITIONS = 10
"""Cassandra warns about unlogged batches over more partitions (unlogged_batch_across_partitions_warn_threshold)."""


UNKNOWN_OUTCOME_EXIT = 6
"""CLI exit code when counter writes have an unknown outcome (some may have been applied)."""


class LoadAborted(BulkError):
    """More rejected records than ``max_errors`` allows; what was written stays, resume continues.

    ``result`` is the run's :class:`LoadResult` (``rejected`` records that could not be read or
    converted, ``failed_writes`` that failed after every retry; ``log_dir`` holds them)."""

    exit_code = 5
    result: LoadResult | None = None

    @property
    def transient(self) -> bool:  # type: ignore[override]
        """Rejected records fail again on a re-run (terminal); writes that failed after every retry
        (a node down) may pass later."""
        return bool(self.result is not None and self.result.failed_writes)


@dataclass(frozen=True)
class LoadOptions:
    source: str = "-"
    """A file, a directory (every file of the format in it), ``s3://...``, ``-`` for stdin; for an
    Iceberg source the table identifier ``namespace.table`` (see ``iceberg``)."""
    format: str | None = None
    """csv | jsonl | parquet | iceberg; default: from the source's name."""
    file_pattern: str | None = None
    """Glob on file names inside a directory (default: by the format's suffixes)."""
    csv: CsvOptions = field(default_factory=CsvOptions)
    mapping: Mapping[str, str | Sequence[str]] | None = None
    """Source field → column (or columns: one field may fill several, like DSBulk's mapping).
    Default: every column from the field of the same name. Two fields into one column is an error."""
    allow_missing_fields: bool = False
    """A mapped field the source lacks, or (without a mapping) a table column no source field
    matches, becomes null; otherwise either is an error before any write (never allowed for primary
    key columns)."""
    allow_extra_fields: bool = True
    """Source fields that map to no column are ignored and reported (log, ``unmapped_fields`` in
    the summary); False refuses them."""
    null_to_unset: bool = True
    """Nulls leave the column untouched (no tombstone); False writes explicit nulls."""
    write_timestamp: int | None = None
    """A fixed write time for every cell (epoch microseconds)."""
    ttl: int | None = None
    """A fixed TTL in seconds for every row."""
    timestamp_field: str | None = None
    """A source field holding each row's write time (a timestamp, or epoch microseconds)."""
    ttl_field: str | None = None
    """A source field holding each row's TTL in seconds."""
    preserve_writetime: bool = True
    """Use the source's ``writetime(col)`` / ``ttl(col)`` fields (an export with --writetime)."""
    batch_mode: str = "auto"
    """Unlogged batches: ``partition`` groups rows of one partition (DSBulk's default);
    ``replica-set`` groups rows whose partitions share their replicas (at most
    ``max_batch_partitions`` partitions a batch); ``auto`` does the first, then puts the rows left
    alone into replica-set batches — DSBulk's documented tuning when batches average one row,
    applied per chunk. A Python client pays most of its CPU per request, so fewer requests is what
    makes it fast; ``disabled`` sends every row alone."""
    max_batch_statements: int = 32
    max_batch_bytes: int = 48 * 1024
    max_batch_partitions: int = MAX_BATCH_PARTITIONS
    concurrency: int | None = None
    """Requests in flight; default: from the average row size."""
    max_rows_per_second: float | None = None
    max_attempts: int = 10
    consistency: str = "LOCAL_ONE"
    request_timeout: float = 60.0
    max_errors: int | str = 100
    """Rejected records allowed: a count, ``"N%"`` of the records read (checked after 100), -1 = any."""
    log_dir: str = "logs"
    resume: bool = False
    checkpoint: str | None = None
    """A checkpoint file to resume from (default: the newest matching one under ``log_dir``)."""
    checkpoint_seconds: float = 5.0
    checkpoint_records: int = 50_000
    """The checkpoint is written every ``checkpoint_seconds`` and after ``checkpoint_records`` more
    acknowledged records, whichever comes first: what a kill can make a resume redo."""
    only_range: str | None = None
    """Load only rows whose partition-key token is in this range id (``r03-of-16``)."""
    range_window: TokenRange | None = None
    """Or only rows whose token is in this window."""
    iceberg: IcebergSource | None = None
    storage: StorageOptions | None = None
    dry_run: bool = False
    """Read, convert and bind everything, write nothing."""
    cancel: threading.Event | None = field(default=None, compare=False, repr=False)
    """Set it to stop the load (an orchestrator's ``on_kill``): no new request is sent, retries
    stop, and :func:`load_table` raises :class:`LoadCancelled` after a short wait for the requests
    in flight. What was acknowledged is in the checkpoint."""

    def __post_init__(self) -> None:
        if self.batch_mode not in BATCH_MODES:
            raise ConfigError(f"unknown batch mode {self.batch_mode!r}; one of {', '.join(BATCH_MODES)}")
        _parse_max_errors(self.max_errors)


def _parse_max_errors(value: int | str) -> tuple[int | None, float | None]:
    """(count, ratio): ``10`` → (10, None); ``"5%"`` → (None, 0.05); negative → unlimited."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                pct = float(text[:-1])
            except ValueError:
                raise ConfigError(f"max_errors {value!r}: expected a count or a percentage like 5%") from None
            if not 0 < pct < 100:
                raise ConfigError(f"max_errors {value!r}: a percentage must be between 0 and 100")
            return None, pct / 100
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"max_errors {value!r}: expected a count or a percentage like 5%") from None
    return (None, None) if value < 0 else (int(value), None)


@dataclass
class LoadResult:
    operation_id: str
    keyspace: str
    table: str
    source: str
    records: int = 0
    """Records read (good and rejected) in this run."""
    rows_written: int = 0
    rejected: int = 0
    failed_writes: int = 0
    skipped_other_range: int = 0
    skipped_resumed: int = 0
    """Records a checkpoint already covered."""
    resources: int = 0
    bytes_read: int = 0
    retries: int = 0
    seconds: float = 0.0
    log_dir: str = ""
    timestamp: int = 0
    """The operation timestamp (epoch µs): record *i* of the load (counted across its files) is
    written at ``timestamp + i`` unless it has a write time of its own."""
    aborted: bool = False
    unknown_outcome: int = 0
    """Counter writes whose outcome is unknown (timed out, connection lost after sending): some may
    have been applied, so re-running them may count them twice. Listed in ``unknown.<fmt>``."""
    unmapped_fields: list[str] = field(default_factory=list)
    """Source fields that map to no column (ignored)."""

    @property
    def errors(self) -> int:
        return self.rejected + self.failed_writes

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = self.errors
        if self.unknown_outcome:
            out["warning"] = (
                f"{self.unknown_outcome} counter write(s) have an unknown outcome (some may have been applied): "
                f"check them before loading {os.path.join(self.log_dir, 'unknown.*')} again, "
                "re-running them may count them twice"
            )
        out["table"] = f"{self.keyspace}.{self.table}"
        out.pop("keyspace")
        out["rows_per_s"] = round(self.rows_written / self.seconds, 1) if self.seconds else None
        out["seconds"] = round(self.seconds, 3)
        return out


def _limit_crossing(
    ordinals: Sequence[int],
    errors_before: int,
    records_before: int,
    first: int,
    max_count: int | None,
    max_ratio: float | None,
) -> int | None:
    """The ordinal of the first bad record (``ordinals`` sorted) that takes the run past
    ``max_errors``, counting records read up to it; None if the chunk stays within the limit."""
    for k, ordinal in enumerate(ordinals):
        errors = errors_before + k + 1
        records = records_before + ordinal - first + 1
        if max_count is not None and errors > max_count:
            return ordinal
        if max_ratio is not None and records >= 100 and errors / records > max_ratio:
            return ordinal
    return None


def _window(options: LoadOptions) -> TokenRange | None:
    if options.only_range:
        try:
            planned: PlannedRange = range_by_id(options.only_range)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return planned.tokens
    return options.range_window
