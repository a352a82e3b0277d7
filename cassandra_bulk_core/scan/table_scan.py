"""Stream one planned range of a table as Arrow record batches, sub-ranges in parallel.

Memory is bounded by ``streams x (page in flight + page being converted) + queue``, whatever
the table size: each stream requests page k+1 before converting page k (no stop-and-wait), and
finished batches wait in a bounded queue that blocks the streams, not the driver's event loop.

A failed page is fetched again from the paging state of the last good page, on the next replica
of its sub-range, with exponential backoff and jitter; after the retry budget the scan fails with
a message naming the table and the token range.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
from tenacity.stop import stop_base

from ..errors import ConfigError, is_transient_read
from ..futures import release_timer
from ..ring import PlannedRange, TokenRange
from ..routing import SubRange, require_murmur3, route
from ..table import TableInfo, quote
from ..types import decode
from ..types.arrow import ColumnType, arrow_column, arrow_field, column_type_of
from ..types.native import NativePage
from ..types.tree import table_types
from .columns import empty_values_message, writetime_columns
from .fanout import _Fanout
from .options import SCAN_PROFILE, WRITETIME_TYPE, ScanCancelled, ScanFailed, ScanOptions, ScanStats

_log = logging.getLogger(__name__)


class TableScan:
    """Prepared once per table and option set; :meth:`batches` streams one planned range."""

    _last = threading.local()
    """Per thread: EMPTY counts of the page just converted (read right after :meth:`to_batch`)."""

    def __init__(self, cluster: Any, session: Any, table: TableInfo, options: ScanOptions | None = None):
        self.cluster, self.session, self.table = cluster, session, table
        require_murmur3(cluster)  # before any table, file or query is made
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
        self.types = table_types(cluster, table.keyspace, table.table)
        self._has_static = any(getattr(c, "is_static", False) for c in table.metadata.columns.values())
        self.wt_columns = writetime_columns(table, columns, self.types) if need_wt else []
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
        trees = [self.types[c] for c in columns]
        for prepared in (self._open, self._closed):
            decode.install(session, prepared, trees)  # exact, datetime-free decoding of every page
        self.column_types: list[ColumnType] = [column_type_of(t, exact=True) for t in trees]
        # Values as the driver's default classes decode them: used only if a page ever arrives
        # decoded with other metadata (a protocol v5 metadata change), never silently wrong.
        self._tolerant: list[ColumnType] = [column_type_of(t) for t in trees]
        fields = [
            arrow_field(c, ct, nullable=self._nullable(c)) for c, ct in zip(columns, self.column_types, strict=True)
        ]
        # The declared CQL type (with frozen<> and UDT names) is more exact than the wire type.
        fields = [f.with_metadata({b"cql_type": table.metadata.columns[f.name].cql_type.encode()}) for f in fields]
        self.export_writetime = opts.writetime
        self.empty_values: dict[str, int] = {}
        """Per column, EMPTY values exported as null over this scan's life (all ranges)."""
        self._empty_lock = threading.Lock()
        if opts.writetime:
            for c in self.wt_columns:
                fields.append(pa.field(f"writetime({c})", WRITETIME_TYPE, metadata={b"cql_type": b"writetime"}))
                fields.append(pa.field(f"ttl({c})", pa.int32(), metadata={b"cql_type": b"ttl"}))
        self.schema = pa.schema(fields)

    def _nullable(self, column: str) -> bool:
        """Partition key columns are never null. Clustering columns are null in a static-only row
        (a partition holding only static cells: ``INSERT INTO t (k, s) ...``), so they are
        nullable whenever the table has static columns."""
        if column in self.table.partition_key:
            return False
        if column in self.table.clustering_key:
            return self._has_static
        return True

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

    def to_batch(self, rows: list[tuple[Any, ...]] | NativePage) -> pa.RecordBatch:
        """One page (row tuples, or a natively decoded :class:`~.types.native.NativePage`) as a
        record batch; EMPTY values found are counted on the scan and left, per page, in a
        thread-local for the stream to add to its range's stats."""
        if isinstance(rows, NativePage):
            return self._native_batch(rows)
        n = len(self.columns)
        opts = self.options
        if self.wt_columns and (opts.written_after is not None or opts.written_before is not None):
            rows = [r for r in rows if self._keep(r, n)]
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(n + 2 * len(self.wt_columns))]
        arrays = []
        for i, ct in enumerate(self.column_types):
            arrays.append(self._column(i, ct, cols[i]))
        if self.export_writetime:
            for j in range(len(self.wt_columns)):
                arrays.append(pa.array(cols[n + 2 * j], WRITETIME_TYPE))
                arrays.append(pa.array(cols[n + 2 * j + 1], pa.int32()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _column(self, i: int, ct: ColumnType, values: Sequence[Any]) -> pa.Array:
        """Column ``i`` of a page from decoded values (EMPTY values counted)."""
        try:
            arr, empties = arrow_column(values, ct)
        except Exception:
            arr, empties = arrow_column(values, self._tolerant[i])
        self._count_empties(i, empties)
        return arr

    def _count_empties(self, i: int, empties: int) -> None:
        if empties:
            name = self.columns[i]
            with self._empty_lock:
                self.empty_values[name] = self.empty_values.get(name, 0) + empties
            page_empties = getattr(self._last, "empties", None) or {}
            page_empties[name] = page_empties.get(name, 0) + empties
            self._last.empties = page_empties

    def _native_batch(self, page: NativePage) -> pa.RecordBatch:
        """A natively decoded page: native columns are Arrow already; fallback columns hold the
        driver's decoded values and convert as in :meth:`to_batch`."""
        n = len(self.columns)
        opts = self.options
        mask: pa.Array | None = None
        keep: list[bool] | None = None
        if self.wt_columns and (opts.written_after is not None or opts.written_before is not None):
            mask = self._keep_mask(page, n)
            keep = mask.to_pylist()
        arrays = []
        for i, ct in enumerate(self.column_types):
            arr = page.arrays[i]
            if arr is None:
                values = page.values[i]
                if keep is not None:
                    values = [v for v, k in zip(values, keep, strict=True) if k]
                arrays.append(self._column(i, ct, values))
                continue
            self._count_empties(i, page.empties(i, keep))
            arrays.append(arr if mask is None else arr.filter(mask))
        if self.export_writetime:
            for j in range(len(self.wt_columns)):
                stamps, ttls = self._page_column(page, n + 2 * j), self._page_column(page, n + 2 * j + 1)
                if mask is not None:
                    stamps, ttls = stamps.filter(mask), ttls.filter(mask)
                arrays.append(stamps.cast(WRITETIME_TYPE))
                arrays.append(ttls.cast(pa.int32()))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    @staticmethod
    def _page_column(page: NativePage, i: int) -> pa.Array:
        arr = page.arrays[i]
        if arr is None:  # writetime/ttl are bigint/int, native whenever the page is
            return pa.array(page.values[i], pa.int64())
        return arr

    def _keep_mask(self, page: NativePage, n: int) -> pa.Array:
        """:meth:`_keep` for a whole native page: the newest write time of a row's cells."""
        import pyarrow.compute as pc

        stamps = [self._page_column(page, n + 2 * j).cast(pa.int64()) for j in range(len(self.wt_columns))]
        newest = pc.max_element_wise(*stamps, skip_nulls=True)
        keep = pc.is_valid(newest)
        after, before = self.options.written_after, self.options.written_before
        if after is not None:
            keep = pc.and_(keep, pc.greater_equal(newest, after))
        if before is not None:
            keep = pc.and_(keep, pc.less(newest, before))
        return pc.fill_null(keep, False)

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
        lock = threading.Lock()

        def stream(piece: SubRange, stop: threading.Event) -> Iterator[pa.RecordBatch]:
            return self._stream(piece, stats, lock, stop)

        fanout = _Fanout(pieces, max(1, min(self.options.streams, len(pieces))), stream, f"scan-{planned.id}")
        for batch in fanout:
            if batch.num_rows:
                yield batch
        if stats.empty_values:
            _log.warning("%s: %s", planned.id, empty_values_message(stats.empty_values, self.table.qualified))

    def _stream(
        self, piece: SubRange, stats: ScanStats, lock: threading.Lock, stop: threading.Event
    ) -> Iterator[pa.RecordBatch]:
        from tenacity import (
            RetryCallState,
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            stop_after_delay,
            wait_exponential_jitter,
        )

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
            # At least ``max_attempts`` attempts, and at least ``retry_seconds`` while a replica may
            # still answer (see ScanOptions); once the driver holds every replica down, waiting
            # longer only delays the failure (RF=1 with its node dead).
            stop=stop_after_attempt(self.options.max_attempts)
            & (stop_after_delay(self.options.retry_seconds) | _AllDown(hosts)),
            wait=wait_exponential_jitter(multiplier=0.5, max=10, jitter=0.5),
            before_sleep=count_retry,
            reraise=True,
        )

        attempts = 0

        def fetch_page() -> list[tuple[Any, ...]] | NativePage:
            """The prefetched page, or on a retry the same page again from the next replica."""
            nonlocal future, host, attempts
            attempts += 1
            if attempts > 1:
                host = hosts[(attempts - 1) % len(hosts)]
                future = self._execute(bound, host, paging_state)
            if self._cancelled.is_set():
                raise ScanCancelled(f"scan of {self.table.keyspace}.{self.table.table} cancelled")
            try:
                rows = self._result(future).current_rows
            finally:
                release_timer(future)  # a failed attempt's future too: it is dropped for a new one
            return rows if isinstance(rows, NativePage) else list(rows)

        while not stop.is_set():
            attempts = 0
            first_try = time.monotonic()
            try:
                page = retrying(fetch_page)
            except ScanCancelled:
                raise
            except Exception as exc:
                raise ScanFailed(
                    f"reading {self.table.keyspace}.{self.table.table} tokens "
                    f"({piece.tokens.start}, {piece.tokens.end}] failed after {attempts} attempt(s) "
                    f"in {time.monotonic() - first_try:.0f} s: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            more = future.has_more_pages
            next_state = future._paging_state
            if more:
                # The next page travels while this one converts. A new request, not the driver's
                # start_fetching_next_page(): that one reuses the first request's (cancelled) timer,
                # so a stalled replica would never time out the next page and fail over.
                future = self._execute(bound, host, next_state)
            batch = self.to_batch(page)
            empties = getattr(self._last, "empties", None)
            if empties:
                self._last.empties = None
                with lock:
                    for name, n in empties.items():
                        stats.empty_values[name] = stats.empty_values.get(name, 0) + n
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


class _AllDown(stop_base):
    """A tenacity stop condition: every replica of the sub-range is marked down by the driver (its
    connections failed), as opposed to a stalled one the cluster has not convicted yet."""

    def __init__(self, hosts: Sequence[Any]):
        self.hosts = hosts

    def __call__(self, retry_state: Any) -> bool:
        return all(h is not None and getattr(h, "is_up", None) is False for h in self.hosts)


_retryable = is_transient_read
