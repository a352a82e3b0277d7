"""Stream one planned range of a table as Arrow record batches, sub-ranges in parallel.

Memory is bounded by ``streams x (page in flight + page being converted) + queue``, whatever
the table size: each stream requests page k+1 before converting page k (no stop-and-wait), and
finished batches wait in a bounded queue that blocks the streams, not the driver's event loop.

A failed page is fetched again from the paging state of the last good page, on the next replica
of its sub-range, with exponential backoff and jitter; after the retry budget the scan fails with
a message naming the table and the token range.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .errors import BulkError, ConfigError
from .ring import PlannedRange, TokenRange
from .routing import SubRange, route
from .table import TableInfo, quote
from .types import ColumnType, arrow_field, column_type, to_arrow_array

SCAN_PROFILE = "cassandra_bulk_scan"
WRITETIME_TYPE = pa.timestamp("us", tz="UTC")
_DONE = object()


class ScanCancelled(BulkError):
    """:meth:`TableScan.cancel` was called (an orchestrator killing its task)."""

    exit_code = 4


class ScanFailed(BulkError):
    exit_code = 4


@dataclass(frozen=True)
class ScanOptions:
    """How to read: which columns, page size, parallelism, metadata columns and filters."""

    columns: tuple[str, ...] | None = None
    page_size: int = 5000
    streams: int = 4
    splits_per_vnode: int = 1
    consistency: str = "LOCAL_ONE"
    request_timeout: float = 60.0
    max_attempts: int = 5
    local_dc: str | None = None
    writetime: bool = False
    """Add ``writetime(col)`` and ``ttl(col)`` for every column Cassandra allows them on."""
    written_after: int | None = None
    """Keep rows with at least one cell written at or after this time (epoch microseconds)."""
    written_before: int | None = None
    """Keep rows whose newest cell was written before this time (epoch microseconds)."""
    cancel: threading.Event | None = field(default=None, compare=False, repr=False)
    """Set it to stop the scan (an orchestrator's ``on_kill``): see :meth:`TableScan.cancel`."""


@dataclass
class ScanStats:
    rows: int = 0
    pages: int = 0
    retries: int = 0
    filtered: int = 0
    hosts: dict[str, int] = field(default_factory=dict)
    routes: list[tuple[TokenRange, str]] | None = None
    """When a list, every page's (sub-range, host) is appended: evidence of replica routing."""


def _is_multicell(cql_type: str, udt_names: frozenset[str]) -> bool:
    """Non-frozen collections and UDTs hold one cell per element, so no single writetime."""
    t = cql_type.strip()
    if t.startswith("frozen<"):
        return False
    return t.startswith(("list<", "set<", "map<")) or t in udt_names


def writetime_columns(table: TableInfo, columns: Sequence[str], udt_names: frozenset[str] = frozenset()) -> list[str]:
    """Columns Cassandra gives ``writetime()``/``ttl()`` for: regular and static ones, but not counters,
    and not non-frozen collections or UDTs."""
    keys = set(table.partition_key) | set(table.clustering_key)
    return [
        name
        for name in columns
        if name not in keys
        and table.metadata.columns[name].cql_type != "counter"
        and not _is_multicell(table.metadata.columns[name].cql_type, udt_names)
    ]


class TableScan:
    """Prepared once per table and option set; :meth:`batches` streams one planned range."""

    def __init__(self, cluster: Any, session: Any, table: TableInfo, options: ScanOptions | None = None):
        self.cluster, self.session, self.table = cluster, session, table
        self.options = options or ScanOptions()
        self._cancelled = self.options.cancel or threading.Event()
        opts = self.options
        columns = list(opts.columns) if opts.columns else list(table.columns)
        unknown = [c for c in columns if c not in table.metadata.columns]
        if unknown:
            import difflib

            hints = {c: difflib.get_close_matches(c, list(table.columns), n=1) for c in unknown}
            detail = ", ".join(f"{c!r}" + (f" (did you mean {hints[c][0]!r}?)" if hints[c] else "") for c in unknown)
            raise ConfigError(f"unknown column(s) in {table.keyspace}.{table.table}: {detail}")
        self.columns = columns
        need_wt = opts.writetime or opts.written_after is not None or opts.written_before is not None
        udts = frozenset(cluster.metadata.keyspaces[table.keyspace].user_types)
        self.wt_columns = writetime_columns(table, columns, udts) if need_wt else []
        if (opts.written_after is not None or opts.written_before is not None) and not self.wt_columns:
            raise ConfigError(
                f"{table.keyspace}.{table.table} has no column with a writetime (only keys, counters or "
                "non-frozen collections), so it cannot be filtered by write time"
            )
        selectors = [quote(c) for c in columns]
        for c in self.wt_columns:
            selectors += [f"writetime({quote(c)})", f"ttl({quote(c)})"]
        token = table.token_expr
        base = f"SELECT {', '.join(selectors)} FROM {table.qualified} WHERE {token}"
        self._open = session.prepare(f"{base} > ? AND {token} <= ?")
        self._closed = session.prepare(f"{base} >= ? AND {token} <= ?")
        self._ensure_profile()
        meta = self._open.result_metadata
        self.column_types: list[ColumnType] = [column_type(m[3]) for m in meta[: len(columns)]]
        fields = [
            arrow_field(c, ct, nullable=c not in table.partition_key and c not in table.clustering_key)
            for c, ct in zip(columns, self.column_types, strict=True)
        ]
        # The declared CQL type (with frozen<> and UDT names) is more exact than the wire type.
        fields = [f.with_metadata({b"cql_type": table.metadata.columns[f.name].cql_type.encode()}) for f in fields]
        self.export_writetime = opts.writetime
        if opts.writetime:
            for c in self.wt_columns:
                fields.append(pa.field(f"writetime({c})", WRITETIME_TYPE, metadata={b"cql_type": b"writetime"}))
                fields.append(pa.field(f"ttl({c})", pa.int32(), metadata={b"cql_type": b"ttl"}))
        self.schema = pa.schema(fields)

    def _ensure_profile(self) -> None:
        from cassandra import ConsistencyLevel
        from cassandra.cluster import ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy
        from cassandra.query import tuple_factory

        if SCAN_PROFILE in self.cluster.profile_manager.profiles:
            return
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=self.options.local_dc)),
            consistency_level=getattr(ConsistencyLevel, self.options.consistency.upper()),
            request_timeout=self.options.request_timeout,
            row_factory=tuple_factory,
        )
        self.cluster.add_execution_profile(SCAN_PROFILE, profile)

    # -- conversion ----------------------------------------------------------------------------

    def to_batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        n = len(self.columns)
        opts = self.options
        if self.wt_columns and (opts.written_after is not None or opts.written_before is not None):
            rows = [r for r in rows if self._keep(r, n)]
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(n + 2 * len(self.wt_columns))]
        arrays = [to_arrow_array(cols[i], ct) for i, ct in enumerate(self.column_types)]
        if self.export_writetime:
            for j in range(len(self.wt_columns)):
                arrays.append(pa.array(cols[n + 2 * j], WRITETIME_TYPE))
                arrays.append(pa.array(cols[n + 2 * j + 1], pa.int32()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _keep(self, row: tuple[Any, ...], n: int) -> bool:
        stamps = [row[n + 2 * j] for j in range(len(self.wt_columns)) if row[n + 2 * j] is not None]
        if not stamps:
            return False
        newest = max(stamps)
        after, before = self.options.written_after, self.options.written_before
        return (after is None or newest >= after) and (before is None or newest < before)

    # -- streaming -----------------------------------------------------------------------------

    def sub_ranges(self, tokens: TokenRange) -> list[SubRange]:
        return route(
            self.cluster,
            self.table.keyspace,
            tokens,
            local_dc=self.options.local_dc,
            splits_per_vnode=self.options.splits_per_vnode,
        )

    def batches(
        self,
        planned: PlannedRange,
        stats: ScanStats | None = None,
        on_batch: Callable[[pa.RecordBatch], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """All rows of ``planned`` as record batches (one per page, filtered batches skipped)."""
        stats = stats if stats is not None else ScanStats()
        pieces = self.sub_ranges(planned.tokens)
        streams = max(1, min(self.options.streams, len(pieces)))
        out: queue.Queue[Any] = queue.Queue(maxsize=streams * 2)
        todo: queue.Queue[SubRange] = queue.Queue()
        for p in pieces:
            todo.put(p)
        stop = threading.Event()
        lock = threading.Lock()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    out.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def worker() -> None:
            try:
                while not stop.is_set():
                    try:
                        piece = todo.get_nowait()
                    except queue.Empty:
                        break
                    for batch in self._stream(piece, stats, lock, stop):
                        if not put(batch):
                            return
            except BaseException as exc:  # handed to the consumer, which re-raises it
                put(exc)
            finally:
                put(_DONE)

        threads = [threading.Thread(target=worker, name=f"scan-{planned.id}-{i}", daemon=True) for i in range(streams)]
        for t in threads:
            t.start()
        finished = 0
        try:
            while finished < streams:
                item = out.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                elif item.num_rows:
                    yield item
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)

    def _stream(
        self, piece: SubRange, stats: ScanStats, lock: threading.Lock, stop: threading.Event
    ) -> Iterator[pa.RecordBatch]:
        from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        stmt = self._closed if piece.tokens.includes_start else self._open
        bound = stmt.bind((piece.tokens.start, piece.tokens.end))
        bound.fetch_size = self.options.page_size
        hosts = list(piece.replicas) or [None]
        paging_state: bytes | None = None
        host = hosts[0]
        future = self._execute(bound, host, paging_state)

        def count_retry(_state: RetryCallState) -> None:
            with lock:
                stats.retries += 1

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.options.max_attempts),
            wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5),
            before_sleep=count_retry,
            reraise=True,
        )

        attempts = 0

        def fetch_page() -> list[tuple[Any, ...]]:
            """The prefetched page, or on a retry the same page again from the next replica."""
            nonlocal future, host, attempts
            attempts += 1
            if attempts > 1:
                host = hosts[(attempts - 1) % len(hosts)]
                future = self._execute(bound, host, paging_state)
            if self._cancelled.is_set():
                raise ScanCancelled(f"scan of {self.table.keyspace}.{self.table.table} cancelled")
            return list(self._result(future).current_rows)

        while not stop.is_set():
            attempts = 0
            try:
                page = retrying(fetch_page)
            except ScanCancelled:
                raise
            except Exception as exc:
                raise ScanFailed(
                    f"reading {self.table.keyspace}.{self.table.table} tokens "
                    f"({piece.tokens.start}, {piece.tokens.end}] failed after {attempts} attempt(s): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            more = future.has_more_pages
            next_state = future._paging_state
            if more:
                future.start_fetching_next_page()  # the next page travels while this one converts
            batch = self.to_batch(page)
            with lock:
                stats.pages += 1
                stats.rows += batch.num_rows
                stats.filtered += len(page) - batch.num_rows
                key = str(host.address) if host is not None else "any"
                stats.hosts[key] = stats.hosts.get(key, 0) + len(page)
                if stats.routes is not None:
                    stats.routes.append((piece.tokens, key))
            yield batch
            if not more:
                return
            paging_state = next_state

    def cancel(self) -> None:
        """Stop every stream of this scan within one poll interval: page waits give up, nothing is
        retried, and :meth:`batches` raises :class:`ScanCancelled`. Thread-safe; for ``on_kill``."""
        self._cancelled.set()

    def _result(self, future: Any) -> Any:
        # ResponseFuture.result() cannot time out; poll its event so a cancel is seen promptly.
        event = getattr(future, "_event", None)
        if event is not None:
            while not event.wait(0.2):
                if self._cancelled.is_set():
                    raise ScanCancelled(f"scan of {self.table.keyspace}.{self.table.table} cancelled")
        return future.result()

    def _execute(self, bound: Any, host: Any, paging_state: bytes | None) -> Any:
        return self.session.execute_async(
            bound,
            execution_profile=SCAN_PROFILE,
            paging_state=paging_state,
            host=host,
            timeout=self.options.request_timeout,
        )


def _retryable(exc: BaseException) -> bool:
    from cassandra import OperationTimedOut, ReadFailure, ReadTimeout, Unavailable
    from cassandra.cluster import NoHostAvailable
    from cassandra.protocol import OverloadedErrorMessage, ServerError

    return isinstance(
        exc,
        ReadTimeout
        | OperationTimedOut
        | Unavailable
        | ReadFailure
        | NoHostAvailable
        | OverloadedErrorMessage
        | ServerError
        | ConnectionError,
    )
