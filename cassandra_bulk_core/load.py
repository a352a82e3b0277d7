"""Load: CSV, JSON Lines, Parquet files or an Iceberg table into a Cassandra table.

The pipeline is source chunks (``sources``: records typed to the columns' canonical Arrow types,
bad records already set aside) → bound statements (this module: mapping, write timestamps and
TTLs, nulls as unset, token-range filter, batching) → requests in flight (``writes``).

Three rules make re-runs safe:

* Every write carries an explicit timestamp: the source's ``writetime(col)`` fields, a per-row
  field, a fixed value, or else the **operation timestamp**, fixed when the load starts and kept
  in its checkpoint. Replaying a record after a crash or a retry writes the same cells with the
  same timestamp, so nothing is loaded twice, even for records whose acknowledgement was lost.
* The checkpoint (``checkpoint.json`` in the operation's log directory) records, per resource,
  the ordinal intervals whose every record was acknowledged or rejected; a resumed run skips them.
* Each rejected record goes to ``rejects.<fmt>`` (as it was read, so the file reloads after a fix)
  with its reason in ``errors.log``; ``max_errors`` stops the run when there are too many.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from . import __version__
from .errors import BulkError, ConfigError
from .events import CompositeListener, Listener, RangeEvent
from .ring import PlannedRange, TokenRange, range_by_id
from .sources import (
    META_PREFIX,
    Chunk,
    FileSet,
    IcebergSource,
    Reject,
    Target,
    csv_header,
    detect_format,
    parquet_schema,
    read_csv_chunks,
    read_iceberg_chunks,
    read_jsonl_chunks,
    read_parquet_chunks,
)
from .storage import StorageOptions
from .table import TableInfo, quote
from .text_codecs import CsvOptions
from .types import arrow_field, column_type, driver_values

BATCH_MODES = ("auto", "partition", "replica-set", "disabled")
_CLIENT_TIMESTAMP = object()
"""Group key for cells written with the driver's per-attempt client timestamp (non-frozen lists)."""
MAX_BATCH_PARTITIONS = 10
"""Cassandra warns about unlogged batches over more partitions (unlogged_batch_across_partitions_warn_threshold)."""
WRITETIME_FIELD = pa.timestamp("us", tz="UTC")


class LoadFailed(BulkError):
    """The load could not run to its end (a fatal write error, an unreadable source)."""

    exit_code = 4


class LoadCancelled(LoadFailed):
    """``LoadOptions.cancel`` was set."""


class LoadAborted(BulkError):
    """More rejected records than ``max_errors`` allows; what was written stays, resume continues.

    ``result`` is the run's :class:`LoadResult` (``rejected`` records that could not be read or
    converted, ``failed_writes`` that failed after every retry; ``log_dir`` holds them)."""

    exit_code = 5
    result: LoadResult | None = None


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
    mapping: Mapping[str, str] | None = None
    """Source field → column. Default: every column from the field of the same name."""
    allow_missing_fields: bool = False
    """A mapped field the source lacks becomes null (never for primary key columns)."""
    allow_extra_fields: bool = True
    """Source fields that map to no column are ignored; False rejects them."""
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
    """The operation timestamp (epoch µs) written to cells without their own."""
    aborted: bool = False

    @property
    def errors(self) -> int:
        return self.rejected + self.failed_writes

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out["errors"] = self.errors
        out["table"] = f"{self.keyspace}.{self.table}"
        out.pop("keyspace")
        out["rows_per_s"] = round(self.rows_written / self.seconds, 1) if self.seconds else None
        out["seconds"] = round(self.seconds, 3)
        return out


# -- checkpoint ------------------------------------------------------------------------------------


class Intervals:
    """Sorted disjoint ``[a, b)`` ordinal intervals, merged as they are added."""

    def __init__(self, spans: Sequence[Sequence[int]] = ()):
        self.spans: list[list[int]] = sorted([list(s) for s in spans])

    def add(self, a: int, b: int) -> None:
        if a >= b:
            return
        out: list[list[int]] = []
        for s in self.spans:
            if s[1] < a or s[0] > b:
                out.append(s)
            else:
                a, b = min(a, s[0]), max(b, s[1])
        out.append([a, b])
        self.spans = sorted(out)

    def covers(self, a: int, b: int) -> bool:
        return any(s[0] <= a and b <= s[1] for s in self.spans)

    def total(self) -> int:
        return sum(b - a for a, b in self.spans)


class Checkpoint:
    """What is finished, per resource; written atomically (temp file + rename)."""

    def __init__(self, path: str, fingerprint: str, operation_id: str, timestamp: int):
        self.path = path
        self.fingerprint = fingerprint
        self.operation_id = operation_id
        self.timestamp = timestamp
        self.done: dict[str, Intervals] = defaultdict(Intervals)
        self.complete: set[str] = set()
        self.lock = threading.Lock()
        self.last_write = 0.0

    @classmethod
    def read(cls, path: str) -> Checkpoint:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        cp = cls(path, doc["fingerprint"], doc["operation_id"], int(doc["timestamp"]))
        for name, res in doc["resources"].items():
            cp.done[name] = Intervals(res["done"])
            if res.get("complete"):
                cp.complete.add(name)
        return cp

    def mark(self, resource: str, a: int, b: int) -> None:
        with self.lock:
            self.done[resource].add(a, b)

    def finish(self, resource: str) -> None:
        with self.lock:
            self.complete.add(resource)

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < 2.0:
            return
        with self.lock:
            doc = {
                "version": __version__,
                "fingerprint": self.fingerprint,
                "operation_id": self.operation_id,
                "timestamp": self.timestamp,
                "resources": {
                    name: {"done": iv.spans, "complete": name in self.complete} for name, iv in self.done.items()
                },
            }
            tmp = f"{self.path}.tmp-{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(tmp, self.path)
            self.last_write = now


# -- rejects ---------------------------------------------------------------------------------------


class RejectLog:
    """``rejects.<fmt>`` holds the records as read; ``errors.log`` one JSON line per reason."""

    def __init__(self, directory: str, fmt: str, header: str | None):
        self.directory = directory
        suffix = {"csv": "csv", "jsonl": "jsonl"}.get(fmt, "jsonl")
        self.records_path = os.path.join(directory, f"rejects.{suffix}")
        self.errors_path = os.path.join(directory, "errors.log")
        self.header = header
        self.lock = threading.Lock()
        self._records: Any = None
        self._errors: Any = None
        self.count = 0

    def add(self, reject: Reject, kind: str) -> None:
        with self.lock:
            if self._records is None:
                self._records = open(self.records_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._errors = open(self.errors_path, "a", encoding="utf-8")  # noqa: SIM115
                if self.header is not None and self._records.tell() == 0:
                    self._records.write(self.header + "\n")
            self._records.write(reject.record.rstrip("\r\n") + "\n")
            entry = {
                "kind": kind,
                "resource": reject.resource,
                "record": reject.ordinal + 1,
                "field": reject.field,
                "reason": reject.reason,
            }
            self._errors.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.count += 1

    def close(self) -> None:
        with self.lock:
            for f in (self._records, self._errors):
                if f is not None:
                    f.close()
            self._records = self._errors = None


# -- statements ------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What to write: target columns (key columns first), where each comes from, and how."""

    columns: list[str]
    fields: list[pa.Field]
    targets: list[Target]
    keys: list[str]
    counter: bool
    writetime_fields: dict[str, str]
    """column → source field holding its write time (``writetime(col)``)."""
    ttl_fields: dict[str, str]
    row_timestamp: str | None
    row_ttl: str | None
    source_fields: list[str] | None
    list_columns: frozenset[str] = frozenset()
    """Non-frozen lists: written without an explicit timestamp (see :func:`_resolve`)."""


class _Statements:
    """Prepared INSERTs (or counter UPDATEs) per set of columns, made on first use."""

    def __init__(self, session: Any, info: TableInfo, plan: _Plan, consistency: Any):
        self.session, self.info, self.plan = session, info, plan
        self.consistency = consistency
        self.cache: dict[tuple[tuple[str, ...], bool], Any] = {}
        self.lock = threading.Lock()

    def get(self, columns: tuple[str, ...], timestamp: bool = True) -> Any:
        key = (columns, timestamp)
        stmt = self.cache.get(key)
        if stmt is not None:
            return stmt
        with self.lock:
            if key not in self.cache:
                self.cache[key] = self._prepare(columns, timestamp)
            return self.cache[key]

    def _prepare(self, columns: tuple[str, ...], timestamp: bool = True) -> Any:
        plan = self.plan
        if plan.counter:
            values = [c for c in columns if c not in plan.keys]
            sets = ", ".join(f"{quote(c)} = {quote(c)} + ?" for c in values)
            where = " AND ".join(f"{quote(k)} = ?" for k in plan.keys)
            cql = f"UPDATE {self.info.qualified} SET {sets} WHERE {where}"
        else:
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join("?" for _ in columns)
            using = "USING TIMESTAMP ? AND TTL ?" if timestamp else "USING TTL ?"
            cql = f"INSERT INTO {self.info.qualified} ({names}) VALUES ({marks}) {using}"
        prepared = self.session.prepare(cql)
        prepared.consistency_level = self.consistency
        prepared.is_idempotent = not plan.counter
        return prepared


class _Write:
    """One statement's worth of values, already serialized: the cheap unit the batcher groups.

    The driver's ``bind()`` builds a namedtuple and checks encryption policies per value, which
    costs more than the write itself for small rows; columns here are serialized column by column
    with the driver's own type serializers, and batches get the bytes directly."""

    __slots__ = ("prepared", "routing_key", "values")

    def __init__(self, prepared: Any, values: Sequence[Any], routing_key: bytes):
        self.prepared, self.values, self.routing_key = prepared, values, routing_key

    @classmethod
    def of(cls, bound: Any) -> _Write:
        return cls(bound.prepared_statement, bound.values, bound.routing_key)

    def statement(self) -> Any:
        from cassandra.query import BoundStatement

        bound = BoundStatement(self.prepared)
        bound.values = list(self.values)
        bound.raw_values = bound.values
        bound._routing_key = self.routing_key
        return bound


def _add_to_batch(batch: Any, write: _Write) -> None:
    if batch.routing_key is None:
        batch.routing_key = write.routing_key
        batch.keyspace = write.prepared.keyspace
    batch._statements_and_parameters.append((True, write.prepared.query_id, write.values))


def _routing_keys(parts: list[list[bytes]]) -> list[bytes]:
    """Routing keys from serialized partition key columns (the driver's composite encoding)."""
    if len(parts) == 1:
        return parts[0]
    import struct

    def pack(p: bytes) -> bytes:
        return struct.pack(f">H{len(p)}sB", len(p), p, 0)

    return [b"".join(pack(p) for p in values) for values in zip(*parts, strict=True)]


def _canonical_fields(session: Any, info: TableInfo, columns: list[str]) -> list[pa.Field]:
    """Each column's canonical Arrow field (the export's), from the driver's type metadata."""
    names = ", ".join(quote(c) for c in columns)
    prepared = session.prepare(f"SELECT {names} FROM {info.qualified} LIMIT 1")
    out = []
    for c, meta in zip(columns, prepared.result_metadata, strict=True):
        ctype = column_type(meta[3])
        f = arrow_field(c, ctype, nullable=True)
        out.append(f.with_metadata({b"cql_type": info.metadata.columns[c].cql_type.encode()}))
    return out


def _resolve(session: Any, info: TableInfo, options: LoadOptions, source_fields: list[str] | None) -> _Plan:
    """Match source fields to columns; every decision that can fail fails here, before any write."""
    table_cols = list(info.columns)
    keys = list(info.partition_key) + list(info.clustering_key)
    known = set(source_fields) if source_fields is not None else None
    if options.mapping:
        mapping = dict(options.mapping)
        unknown = [c for c in mapping.values() if c not in table_cols]
        if unknown:
            raise ConfigError(f"mapping names column(s) not in {info.keyspace}.{info.table}: {', '.join(unknown)}")
    else:
        mapping = {c: c for c in table_cols if known is None or c in known}
        if known is not None:
            lowered = {f.lower(): f for f in known}
            for c in table_cols:
                if c not in mapping.values() and c.lower() in lowered:
                    mapping[lowered[c.lower()]] = c
    by_column = {col: fld for fld, col in mapping.items()}
    if known is not None:
        absent = [f for f in mapping if f not in known]
        if absent and not options.mapping:
            absent = []
        if absent and not options.allow_missing_fields:
            raise ConfigError(f"the source has no field(s) {', '.join(absent)} named in the mapping")
        for f in absent:
            del by_column[mapping[f]]
    missing_keys = [k for k in keys if k not in by_column]
    if missing_keys:
        have = ", ".join(source_fields) if source_fields is not None else "unknown"
        raise ConfigError(f"no source field for primary key column(s) {', '.join(missing_keys)} (fields: {have})")
    columns = keys + [c for c in table_cols if c in by_column and c not in keys]
    fields = _canonical_fields(session, info, columns)
    counter = any(info.metadata.columns[c].cql_type == "counter" for c in table_cols)
    targets = [Target(by_column[c], f) for c, f in zip(columns, fields, strict=True)]
    wt: dict[str, str] = {}
    tl: dict[str, str] = {}
    if options.preserve_writetime and known is not None and not counter:
        for c in columns[len(keys) :]:
            if f"writetime({c})" in known and options.write_timestamp is None and not options.timestamp_field:
                wt[c] = f"writetime({c})"
                targets.append(Target(wt[c], pa.field(wt[c], WRITETIME_FIELD, metadata={b"cql_type": b"timestamp"})))
            if f"ttl({c})" in known and options.ttl is None and not options.ttl_field:
                tl[c] = f"ttl({c})"
                targets.append(Target(tl[c], pa.field(tl[c], pa.int32(), metadata={b"cql_type": b"int"})))
    row_ts = options.timestamp_field
    row_ttl = options.ttl_field
    for name, typ, cql in ((row_ts, WRITETIME_FIELD, b"timestamp"), (row_ttl, pa.int32(), b"int")):
        if name:
            if known is not None and name not in known:
                raise ConfigError(f"the source has no field {name!r} (for the write time / TTL)")
            targets.append(Target(name, pa.field(f"__{name}", typ, metadata={b"cql_type": cql})))
    if counter and (options.write_timestamp or options.ttl or row_ts or row_ttl):
        raise ConfigError("counter tables take no write timestamp or TTL")
    if known is not None and not options.allow_extra_fields:
        used = {t.source for t in targets}
        extra = [
            f
            for f in known
            if f not in used and not f.startswith(META_PREFIX) and not f.startswith(("writetime(", "ttl("))
        ]
        if extra:
            raise ConfigError(f"source field(s) {', '.join(extra)} map to no column (allow extra fields to ignore)")
    # A non-frozen list's elements are keyed by a time UUID made at write time, and writing the whole
    # list deletes the old one with a tombstone at (timestamp - 1): rewritten at the *same* timestamp
    # (a retry, a resume, an orchestrator re-run), the old elements survive and the list doubles.
    # So lists go in their own INSERT with the driver's client timestamp, new on every attempt: a
    # replay replaces the list. Sets, maps and UDTs are keyed by value and need none of this.
    lists = frozenset(
        c for c in columns[len(keys) :] if info.metadata.columns[c].cql_type.startswith("list<") and not counter
    )
    return _Plan(columns, fields, targets, keys, counter, wt, tl, row_ts, row_ttl, source_fields, lists)


# -- the load ---------------------------------------------------------------------------------------


def _fingerprint(info: TableInfo, options: LoadOptions, fmt: str, snapshot: int | None) -> str:
    doc = {
        "table": f"{info.keyspace}.{info.table}",
        "source": options.source,
        "format": fmt,
        "snapshot": snapshot,
        "mapping": dict(options.mapping or {}),
        "range": options.only_range,
        "window": options.range_window.to_dict() if options.range_window else None,
        "pattern": options.file_pattern,
        "filter": options.iceberg.row_filter if options.iceberg else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _find_checkpoint(log_dir: str, fp: str) -> str | None:
    """The newest checkpoint under ``log_dir`` written by a load with the same fingerprint."""
    if not os.path.isdir(log_dir):
        return None
    found = []
    for name in os.listdir(log_dir):
        path = os.path.join(log_dir, name, "checkpoint.json")
        if name.startswith("load_") and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    if json.load(f).get("fingerprint") == fp:
                        found.append((os.path.getmtime(path), path))
            except (OSError, ValueError):
                continue
    return max(found)[1] if found else None


class _ChunkState:
    __slots__ = ("chunk", "pending", "submitted")

    def __init__(self, chunk: Chunk):
        self.chunk = chunk
        self.pending = 1  # held until every row is submitted
        self.submitted = False


def load_table(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: LoadOptions,
    listener: Listener | None = None,
    operation_id: str | None = None,
) -> LoadResult:
    """Load ``options.source`` into ``info``'s table; see the module docstring for the guarantees."""
    from cassandra import ConsistencyLevel
    from cassandra.query import UNSET_VALUE, BatchStatement, BatchType

    events = CompositeListener([listener] if listener else [])
    fmt = options.format or ("iceberg" if options.iceberg else detect_format(options.source, options.storage))
    window = _window(options)
    operation_id = operation_id or uuid.uuid4().hex[:12]
    consistency = ConsistencyLevel.name_to_value[options.consistency.upper()]

    # Source: files or an Iceberg table, and the fields it has.
    files: FileSet | None = None
    ice_table: Any = None
    snapshot: int | None = None
    header: str | None = None
    if fmt == "iceberg":
        src = options.iceberg or IcebergSource(table=options.source)
        ice_table = src.open()
        snapshot = src.snapshot(ice_table)
        ice_fields = [f.name for f in ice_table.schema().fields]
        source_fields: list[str] | None = [f for f in ice_fields if not src.columns or f in src.columns]
    else:
        files = FileSet(options.source, fmt, options.file_pattern, options.storage)
        if fmt == "csv":
            names = csv_header(files, options.csv)
            source_fields = names if names is not None else (list(info.columns) if not options.csv.header else None)
            if names is not None:
                header = options.csv.delimiter.join(names)
        elif fmt == "parquet":
            source_fields = parquet_schema(files).names
        else:
            source_fields = _jsonl_fields(files)
    plan = _resolve(session, info, options, source_fields)
    if fmt == "csv" and files is not None and files.files == ["-"] and options.csv.header:
        plan.source_fields = None  # learned from stdin's first line as it is read
    fp = _fingerprint(info, options, fmt, snapshot)

    # Operation directory, checkpoint, rejects.
    checkpoint: Checkpoint | None = None
    resumed_from = None
    if options.resume:
        resumed_from = options.checkpoint or _find_checkpoint(options.log_dir, fp)
        if resumed_from:
            checkpoint = Checkpoint.read(resumed_from)
            if checkpoint.fingerprint != fp:
                raise ConfigError(f"checkpoint {resumed_from} belongs to a different load (source, table or options)")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    op_dir = os.path.join(options.log_dir, f"load_{stamp}_{operation_id}")
    os.makedirs(op_dir, exist_ok=True)
    op_timestamp = checkpoint.timestamp if checkpoint else int(time.time() * 1_000_000)
    if checkpoint is None:
        checkpoint = Checkpoint(os.path.join(op_dir, "checkpoint.json"), fp, operation_id, op_timestamp)
    else:
        checkpoint.path = os.path.join(op_dir, "checkpoint.json")
    rejects = RejectLog(op_dir, fmt, header)
    max_count, max_ratio = _parse_max_errors(options.max_errors)

    result = LoadResult(
        operation_id,
        info.keyspace,
        info.table,
        options.source,
        log_dir=op_dir,
        timestamp=options.write_timestamp or op_timestamp,
    )
    statements = _Statements(session, info, plan, consistency)
    lock = threading.Lock()
    started = time.monotonic()
    token_of = _token_function(cluster)
    replicas_of = _replica_function(cluster, info.keyspace) if options.batch_mode in ("replica-set", "auto") else None

    def finish_rows(states: Sequence[_ChunkState]) -> None:
        for st in states:
            st.pending -= 1
            if st.pending == 0:
                checkpoint.mark(st.chunk.resource, st.chunk.first, st.chunk.end)

    def on_done(rows: Sequence[Any]) -> None:
        with lock:
            result.rows_written += len(rows)
            finish_rows([r[0] for r in rows])
        events.on_progress(len(rows), 0)

    def on_failed(row: Any, exc: BaseException) -> None:
        st, i = row
        reason = f"write failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raw = st.chunk.raw(i) if st.chunk.raw else ""
        rejects.add(Reject(st.chunk.resource, st.chunk.ordinals[i], raw, reason), "write")
        with lock:
            result.failed_writes += 1
            finish_rows([st])

    from .writes import Executor, auto_concurrency

    executor: Executor | None = None

    def make_executor(first: Chunk) -> Executor:
        n = max(1, first.batch.num_rows)
        avg = (first.nbytes or first.batch.nbytes) / n
        conc = options.concurrency or auto_concurrency(avg, options.batch_mode != "disabled")
        return Executor(
            session,
            conc,
            on_done,
            on_failed,
            max_attempts=options.max_attempts if not plan.counter else 1,
            rows_per_second=options.max_rows_per_second,
            timeout=options.request_timeout,
            cancel=options.cancel,
        )

    def check_errors() -> None:
        errors = result.rejected + result.failed_writes
        over = (max_count is not None and errors > max_count) or (
            max_ratio is not None and result.records >= 100 and errors / max(1, result.records) > max_ratio
        )
        if over:
            limit = f"{max_count}" if max_count is not None else f"{(max_ratio or 0) * 100:g}%"
            exc = LoadAborted(
                f"aborted: {errors} rejected record(s) after {result.records} read exceeds max_errors={limit}; "
                f"{result.rows_written} rows written. Records and reasons: {rejects.records_path}, "
                f"{rejects.errors_path}. Fix them and rerun with resume (--resume) to continue."
            )
            exc.result = result
            raise exc

    # Per-row writes: columns grouped by their own (timestamp, ttl) when the source has writetimes.
    keys_n = len(plan.keys)
    value_cols = plan.columns[keys_n:]
    fixed_ts = options.write_timestamp
    fixed_ttl = options.ttl

    def fast_rows(st: _ChunkState, row_ts: Any, row_ttl: Any, unset: Any) -> Iterator[tuple[Any, Any, int, Any]]:
        """Every row as one INSERT, serialized column by column (see :class:`_Write` and ``wire``)."""
        from cassandra.cqltypes import Int32Type, LongType

        from .wire import serialize_column

        prepared = statements.get(tuple(plan.columns))
        proto = prepared.protocol_version
        metas = prepared.column_metadata
        batch = st.chunk.batch
        n = batch.num_rows
        bad: dict[int, str] = {}
        serialized: list[list[Any]] = []
        names = batch.schema.names
        for j, c in enumerate(plan.columns):
            arr = batch.column(names.index(c))
            if j < keys_n and arr.null_count:
                for r, is_null in enumerate(arr.is_null().to_pylist()):
                    if is_null:
                        bad.setdefault(r, f"primary key column {c!r} is null")
            out, refused = serialize_column(arr, batch.schema.field(c), metas[j].type, proto, unset)
            for r, reason in refused.items():
                bad.setdefault(r, f"field {c!r}: {reason}")
            serialized.append(out)
        ts_default = LongType.serialize(fixed_ts or op_timestamp, proto)
        if row_ts is not None:
            serialized.append([ts_default if t is None else LongType.serialize(t, proto) for t in row_ts])
        else:
            serialized.append([ts_default] * n)
        if row_ttl is not None:
            serialized.append([UNSET_VALUE if t is None else Int32Type.serialize(t, proto) for t in row_ttl])
        else:
            ttl_b = UNSET_VALUE if fixed_ttl is None else Int32Type.serialize(fixed_ttl, proto)
            serialized.append([ttl_b] * n)
        index = prepared.routing_key_indexes or list(range(len(info.partition_key)))
        keys = _routing_keys([[b if isinstance(b, bytes) else b"" for b in serialized[i]] for i in index])
        for r, row in enumerate(zip(*serialized, strict=True)):
            if r in bad:
                yield None, (st, r), 0, bad[r]
            else:
                yield _Write(prepared, row, keys[r]), (st, r), 0, None

    def bind_chunk(st: _ChunkState) -> Iterator[tuple[Any, Any, int, Any]]:
        """(bound statement, row ref, token, routing key) for every write of the chunk's rows."""
        batch = st.chunk.batch
        n = batch.num_rows
        if n == 0:
            return
        unset = UNSET_VALUE if options.null_to_unset else None
        if not (plan.writetime_fields or plan.ttl_fields or plan.list_columns) and not plan.counter:
            extra = [f"__{x}" for x in (plan.row_timestamp, plan.row_ttl) if x]
            extras = {name: driver_values(batch.column(name), batch.schema.field(name)) for name in extra}
            row_ts_fast = extras.get(f"__{plan.row_timestamp}") if plan.row_timestamp else None
            row_ttl_fast = extras.get(f"__{plan.row_ttl}") if plan.row_ttl else None
            yield from fast_rows(st, row_ts_fast, row_ttl_fast, unset)
            return
        cols = {f.name: driver_values(batch.column(i), f) for i, f in enumerate(batch.schema)}
        key_vals = [cols[k] for k in plan.keys]
        vals = [cols[c] for c in value_cols]
        wt_vals = {c: _micros(cols.get(f"writetime({c})")) for c in plan.writetime_fields}
        tl_vals = {c: cols[f"ttl({c})"] for c in plan.ttl_fields}
        row_ts = _micros(cols[f"__{plan.row_timestamp}"]) if plan.row_timestamp else None
        row_ttl = cols[f"__{plan.row_ttl}"] if plan.row_ttl else None
        unset = UNSET_VALUE if options.null_to_unset else None
        all_cols = tuple(plan.columns)
        for r in range(n):
            key = [kv[r] for kv in key_vals]
            if any(k is None for k in key):
                missing = plan.keys[[k is None for k in key].index(True)]
                yield None, (st, r), 0, f"primary key column {missing!r} is null"
                continue
            ts = row_ts[r] if row_ts is not None and row_ts[r] is not None else (fixed_ts or op_timestamp)
            ttl = row_ttl[r] if row_ttl is not None else fixed_ttl
            if plan.counter:
                values = [0 if v[r] is None else v[r] for v in vals]
                bound = statements.get(all_cols).bind(values + key)
                yield _Write.of(bound), (st, r), 0, None
                continue
            groups: dict[tuple[Any, Any], list[int]] = defaultdict(list)
            latest = None
            for j, c in enumerate(value_cols):
                if vals[j][r] is None:
                    if not options.null_to_unset:
                        groups[(ts, UNSET_VALUE)].append(j)
                    continue
                c_wt = wt_vals.get(c)
                c_ts = c_wt[r] if c_wt is not None else None
                c_ttl: Any = tl_vals[c][r] if c in tl_vals else ttl
                if c in tl_vals and c_ttl is None:
                    c_ttl = 0  # the cell had no TTL: write it without one, whatever the table default
                if c in plan.list_columns:
                    c_ts = _CLIENT_TIMESTAMP
                groups[(c_ts, UNSET_VALUE if c_ttl is None else c_ttl)].append(j)
                if c_ts is not None and c_ts is not _CLIENT_TIMESTAMP and (latest is None or c_ts > latest):
                    latest = c_ts
            if not groups:
                groups[(None, UNSET_VALUE)] = []
            for (g_ts, g_ttl), idx in groups.items():
                names = tuple(plan.keys) + tuple(value_cols[j] for j in idx)
                values = key + [unset if vals[j][r] is None else vals[j][r] for j in idx]
                if g_ts is _CLIENT_TIMESTAMP:
                    stmt = statements.get(names, timestamp=False)
                    yield _Write.of(stmt.bind([*values, g_ttl])), (st, r), 0, None
                    continue
                stmt = statements.get(names)
                # Columns without a writetime of their own (collections, keys) take the row's newest.
                write_ts = g_ts if g_ts is not None else (latest if latest is not None else ts)
                yield _Write.of(stmt.bind([*values, write_ts, g_ttl])), (st, r), 0, None

    def submit_chunk(st: _ChunkState) -> None:
        nonlocal executor
        chunk = st.chunk
        with lock:
            result.records += chunk.end - chunk.first
            result.bytes_read += chunk.nbytes
        for rej in chunk.rejects:
            rejects.add(rej, "read")
            with lock:
                result.rejected += 1
        # Group the chunk's writes by partition (or replica set); one row may have several writes.
        per_row: dict[int, list[Any]] = defaultdict(list)
        order: list[int] = []
        for bound, ref, _tok, problem in bind_chunk(st):
            r = ref[1]
            if problem is not None:
                rejects.add(
                    Reject(chunk.resource, chunk.ordinals[r], chunk.raw(r) if chunk.raw else "", problem), "read"
                )
                with lock:
                    result.rejected += 1
                continue
            if r not in per_row:
                order.append(r)
            per_row[r].append(bound)
        check_errors()
        if window is not None:
            kept = []
            for r in order:
                token = token_of(per_row[r][0].routing_key)
                if token in window:
                    kept.append(r)
                else:
                    with lock:
                        result.skipped_other_range += 1
            order = kept
        if executor is None and order:
            executor = make_executor(chunk)
        with lock:
            st.pending += len(order)
        if options.dry_run or not order:
            with lock:
                result.rows_written += 0
                st.pending -= len(order)
            return
        assert executor is not None
        row_bytes = max(1, chunk.nbytes // max(1, chunk.batch.num_rows))
        if all(len(per_row[r]) == 1 for r in order):
            works = _group_singles(
                order, [per_row[r][0] for r in order], st, options, replicas_of, consistency, row_bytes
            )
        else:
            works = _group(order, per_row, st, options, replicas_of, consistency, BatchStatement, BatchType, row_bytes)
        for work in works:
            executor.submit(work)

    last_resource: str | None = None
    try:
        events.on_start(
            operation_id,
            len(files.files) if files else 1,
            {"table": f"{info.keyspace}.{info.table}", "source": options.source, "format": fmt},
        )
        for resource, chunks in _chunks(fmt, files, ice_table, options, plan, snapshot, checkpoint, result):
            if resource != last_resource:
                if last_resource is not None:
                    events.on_range_finished(RangeEvent(operation_id, last_resource))
                events.on_range_started(RangeEvent(operation_id, resource))
                last_resource = resource
                result.resources += 1
            for chunk in chunks:
                if options.cancel is not None and options.cancel.is_set():
                    raise LoadCancelled(f"load into {info.keyspace}.{info.table} cancelled")
                st = _ChunkState(chunk)
                submit_chunk(st)
                with lock:
                    finish_rows([st])  # all of the chunk's rows are submitted
                checkpoint.write()
            _mark_complete_when_done(checkpoint, resource, executor, options.cancel)
        if executor is not None:
            executor.drain()
        checkpoint.write(force=True)
        if last_resource is not None:
            events.on_range_finished(RangeEvent(operation_id, last_resource))
        check_errors()
    except LoadAborted:
        result.aborted = True
        if executor is not None:
            executor.drain()
        checkpoint.write(force=True)
        raise
    except BulkError:
        if executor is not None:
            executor.drain()
        checkpoint.write(force=True)
        raise
    except Exception as exc:
        if executor is not None:
            with contextlib.suppress(Exception):
                executor.drain(timeout=60)
        checkpoint.write(force=True)
        raise LoadFailed(
            f"load stopped: {type(exc).__name__}: {exc}; `--resume` continues from the checkpoint"
        ) from exc
    finally:
        if executor is not None:
            result.retries = executor.retries
            executor.close()
        rejects.close()
        result.seconds = time.monotonic() - started
        with open(os.path.join(op_dir, "summary.json"), "w", encoding="utf-8") as f:
            json.dump({**result.summary(), "resumed_from": resumed_from}, f, indent=2)
    events.on_finish(result.summary())
    return result


def _mark_complete_when_done(checkpoint: Checkpoint, resource: str, executor: Any, cancel: Any) -> None:
    """A resource is complete once everything read from it is acknowledged: cheap to check at the
    end of each resource by draining, which also bounds memory to one resource's in-flight writes."""
    if executor is not None:
        executor.drain()
    if cancel is not None and cancel.is_set():
        raise LoadCancelled("load cancelled")
    checkpoint.finish(resource)


def _micros(values: list[Any] | None) -> list[Any] | None:
    """Write times arrive as epoch microseconds (timestamp[us] → int64 through driver_values)."""
    return values


def _window(options: LoadOptions) -> TokenRange | None:
    if options.only_range:
        try:
            planned: PlannedRange = range_by_id(options.only_range)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return planned.tokens
    return options.range_window


def _token_function(cluster: Any) -> Callable[[bytes], int]:
    from cassandra.murmur3 import murmur3

    return murmur3


def _replica_function(cluster: Any, keyspace: str) -> Callable[[bytes], Any]:
    """Routing key → an id of its replica set. Replicas are looked up once per vnode (the ring
    token owning the key's token), not once per row."""
    import bisect

    from cassandra.murmur3 import murmur3

    meta = cluster.metadata
    token_map = meta.token_map
    ring = [t.value for t in token_map.ring] if token_map is not None else []
    cache: dict[int, tuple[str, ...]] = {}

    def replicas(routing_key: bytes) -> Any:
        if not ring:
            return 0
        i = bisect.bisect_left(ring, murmur3(routing_key))
        owner = ring[i] if i < len(ring) else ring[0]
        found = cache.get(owner)
        if found is None:
            found = tuple(sorted(str(h.endpoint) for h in meta.get_replicas(keyspace, routing_key)))
            cache[owner] = found
        return found

    return replicas


def _group_singles(
    order: list[int],
    writes: list[_Write],
    st: _ChunkState,
    options: LoadOptions,
    replicas_of: Callable[[bytes], Any] | None,
    consistency: Any,
    row_bytes: int,
) -> Iterator[Any]:
    """:func:`_group` for the common case of one write per row, with less per-row work: rows of a
    partition (and, in auto/replica-set mode, the lone rows of a replica set) are cut into batches
    by count, the byte bound turned into a count from the chunk's average row size."""
    from cassandra.query import BatchStatement, BatchType

    from .writes import Work

    mode = options.batch_mode
    per_batch = max(1, min(options.max_batch_statements, options.max_batch_bytes // row_bytes))
    if mode == "disabled" or per_batch <= 1:
        for r, w in zip(order, writes, strict=True):
            yield Work(w.statement(), [(st, r)])
        return
    by_key: dict[bytes, list[int]] = {}
    for i, w in enumerate(writes):
        by_key.setdefault(w.routing_key, []).append(i)
    groups: list[list[int]] = []
    if mode == "partition":
        groups = list(by_key.values())
    else:
        alone: dict[Any, list[int]] = {}
        for key, idx in by_key.items():
            if mode == "auto" and len(idx) > 1:
                groups.append(idx)
            else:
                assert replicas_of is not None
                alone.setdefault(replicas_of(key), []).extend(idx)
        per_partition_batch = max(1, min(per_batch, options.max_batch_partitions))
        for idx in alone.values():  # one row per partition here: the partition bound is a row bound
            groups.extend(idx[i : i + per_partition_batch] for i in range(0, len(idx), per_partition_batch))
    for idx in groups:
        for start in range(0, len(idx), per_batch):
            piece = idx[start : start + per_batch]
            if len(piece) == 1:
                i = piece[0]
                yield Work(writes[i].statement(), [(st, order[i])])
                continue
            batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=consistency)
            first = writes[piece[0]]
            batch.routing_key = first.routing_key
            batch.keyspace = first.prepared.keyspace
            batch._statements_and_parameters = [(True, writes[i].prepared.query_id, writes[i].values) for i in piece]
            yield Work(batch, [(st, order[i]) for i in piece], singles=[writes[i] for i in piece])


def _group(
    order: list[int],
    per_row: dict[int, list[Any]],
    st: _ChunkState,
    options: LoadOptions,
    replicas_of: Callable[[bytes], Any] | None,
    consistency: Any,
    batch_cls: Any,
    batch_type: Any,
    row_bytes: int,
) -> Iterator[Any]:
    """Requests for the chunk's rows: unlogged batches of one partition (or replica set), bounded
    in statements, partitions and bytes; a lone write goes as itself."""
    from .writes import Work

    def single(r: int) -> Any:
        writes = per_row[r]
        if len(writes) == 1:
            return Work(writes[0].statement(), [(st, r)])
        batch = batch_cls(batch_type=batch_type.UNLOGGED, consistency_level=consistency)
        for w in writes:  # one row's column groups: one partition, one atomic batch
            _add_to_batch(batch, w)
        return Work(batch, [(st, r)])

    mode = options.batch_mode
    if mode == "disabled" or options.max_batch_statements <= 1:
        for r in order:
            yield single(r)
        return
    by_partition: dict[Any, list[int]] = defaultdict(list)
    for r in order:
        by_partition[per_row[r][0].routing_key].append(r)
    if mode == "partition":
        groups = list(by_partition.values())
        per_batch_partitions = 1
    else:
        alone: dict[Any, list[int]] = defaultdict(list)
        groups = []
        for key, rows in by_partition.items():
            if mode == "auto" and len(rows) > 1:
                groups.append(rows)
            else:
                assert replicas_of is not None
                alone[replicas_of(key)].extend(rows)
        groups.extend(alone.values())
        per_batch_partitions = max(1, options.max_batch_partitions)
    limit = options.max_batch_statements
    for rows in groups:
        if len(rows) == 1:
            yield single(rows[0])
            continue
        batch = batch_cls(batch_type=batch_type.UNLOGGED, consistency_level=consistency)
        members: list[Any] = []
        parts: list[tuple[Any, list[Any]]] = []
        keys: set[Any] = set()
        statements = 0
        size = 0
        for r in rows:
            writes = per_row[r]
            key = writes[0].routing_key
            new_key = key not in keys
            full = (
                statements + len(writes) > limit
                or size + row_bytes > options.max_batch_bytes
                or (new_key and len(keys) >= per_batch_partitions)
            )
            if members and full:
                yield Work(batch, members, parts) if len(members) > 1 else single(members[0][1])
                batch = batch_cls(batch_type=batch_type.UNLOGGED, consistency_level=consistency)
                members, parts, keys, statements, size = [], [], set(), 0, 0
            for w in writes:
                _add_to_batch(batch, w)
            parts.append(((st, r), writes))
            members.append((st, r))
            keys.add(key)
            statements += len(writes)
            size += row_bytes
        if members:
            yield Work(batch, members, parts) if len(members) > 1 else single(members[0][1])


def _jsonl_fields(files: FileSet) -> list[str] | None:
    """The fields of the first JSON record (JSON Lines has no header); None for stdin."""
    if files.files == ["-"]:
        return None
    with files.open_stream(files.files[0]) as stream:
        buf = b""
        while b"\n" not in buf:
            piece = stream.read(1 << 16)
            if not piece:
                break
            buf += piece
    for line in buf.split(b"\n"):
        if line.strip():
            try:
                doc = json.loads(line)
            except ValueError:
                return None
            return list(doc) if isinstance(doc, dict) else None
    return None


def _chunks(
    fmt: str,
    files: FileSet | None,
    ice_table: Any,
    options: LoadOptions,
    plan: _Plan,
    snapshot: int | None,
    checkpoint: Checkpoint,
    result: LoadResult,
) -> Iterator[tuple[str, Iterator[Chunk]]]:
    """(resource name, its chunks) for every resource not finished by an earlier run."""

    def skipper(resource: str) -> Callable[[int, int], bool]:
        done = checkpoint.done.get(resource)

        def skip(a: int, b: int) -> bool:
            if done is not None and done.covers(a, b):
                result.skipped_resumed += b - a
                return True
            return False

        return skip

    if fmt == "iceberg":
        src = options.iceberg or IcebergSource(table=options.source)
        resource = f"iceberg:{src.table}@{snapshot}"
        if resource in checkpoint.complete:
            result.skipped_resumed += checkpoint.done[resource].total()
            return
        row_filter = src.row_filter
        fields = [f.name for f in ice_table.schema().fields]
        if options.only_range and "_cb_range" in fields and _export_splits(ice_table, snapshot) == _count(options):
            # Our export's range column narrows the scan; the token filter still checks every row.
            by_range = f"_cb_range = '{options.only_range}'"
            row_filter = by_range if not row_filter else f"({row_filter}) and {by_range}"
        yield resource, read_iceberg_chunks(ice_table, src, snapshot, plan.targets, row_filter, skipper(resource))
        return
    assert files is not None
    known = frozenset(t.source for t in plan.targets)
    for rel in files.files:
        resource = files.name(rel)
        if resource in checkpoint.complete:
            result.skipped_resumed += checkpoint.done[resource].total()
            continue
        if options.only_range and _other_range_file(rel, options.only_range):
            continue
        skip = skipper(resource)
        if fmt == "csv":
            names = None if options.csv.header else (plan.source_fields or list(plan.columns))
            yield resource, read_csv_chunks(files, rel, plan.targets, names, options.csv, skip)
        elif fmt == "jsonl":
            yield (
                resource,
                read_jsonl_chunks(
                    files,
                    rel,
                    plan.targets,
                    options.csv.binary_format,
                    skip,
                    options.allow_missing_fields,
                    options.allow_extra_fields,
                    known,
                ),
            )
        else:
            yield resource, read_parquet_chunks(files, rel, plan.targets, skip)


def _count(options: LoadOptions) -> int | None:
    try:
        return range_by_id(options.only_range).count if options.only_range else None
    except ValueError:
        return None


def _export_splits(table: Any, snapshot_id: int | None) -> int | None:
    """The split count of the cassandra-bulk export that wrote the snapshot (from its summary:
    ``r03-of-16`` or ``16 ranges``); None if it is not ours or says nothing."""
    import re

    if snapshot_id is None:
        return None
    snap = table.snapshot_by_id(snapshot_id)
    summary = snap.summary if snap is not None else None
    text = summary.get("cassandra-bulk.ranges") if summary is not None else None
    if not text:
        return None
    found = re.search(r"-of-(\d+)$", text) or re.search(r"^(\d+) ranges$", text)
    return int(found.group(1)) if found else None


def _other_range_file(rel: str, range_id: str) -> bool:
    """Files an export wrote are named for their range (``r03-of-16-part-00000.parquet``): with the
    same split count, a file of another range holds none of this range's rows."""
    name = rel.rsplit("/", 1)[-1]
    head, sep, _ = name.partition("-part-")
    if not sep or "-of-" not in head:
        return False
    try:
        theirs = range_by_id(head)
        mine = range_by_id(range_id)
    except ValueError:
        return False
    return theirs.count == mine.count and theirs.index != mine.index
