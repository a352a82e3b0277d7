"""Count rows by token range, in parallel, each sub-query on a replica of its range.

Like DSBulk's ``count``: totals per planned range and per host. A sub-range whose ``count(*)``
times out is split in two and both halves retried, since a smaller range means fewer rows scanned
per request; other transient errors move the query to the next replica with backoff.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .errors import BulkError, is_timeout, is_transient_read
from .parallel import resolve_processes
from .ring import PlannedRange, TokenRange
from .routing import SubRange, route
from .table import TableInfo

MAX_SPLIT_DEPTH = 6
MAX_REPLICA_ATTEMPTS = 4


class CountFailed(BulkError):
    exit_code = 4


@dataclass
class CountResult:
    total: int = 0
    per_range: dict[str, int] = field(default_factory=dict)
    per_host: Counter[str] = field(default_factory=Counter)
    queries: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "per_range": self.per_range,
            "per_host": dict(self.per_host),
            "queries": self.queries,
            "seconds": round(self.seconds, 3),
        }


def _statements(session: Any, table: TableInfo) -> tuple[Any, Any]:
    base = f"SELECT count(*) FROM {table.qualified} WHERE {table.token_expr}"
    open_start = session.prepare(f"{base} > ? AND {table.token_expr} <= ?")
    closed_start = session.prepare(f"{base} >= ? AND {table.token_expr} <= ?")
    return open_start, closed_start


_is_timeout = is_timeout
_is_retryable = is_transient_read


def count_table(
    cluster: Any,
    session: Any,
    table: TableInfo,
    ranges: list[PlannedRange],
    *,
    concurrency: int = 8,
    local_dc: str | None = None,
    splits_per_vnode: int = 1,
    processes: int = 1,
    connection: Any = None,
) -> CountResult:
    """Count the rows of ``table`` in each planned range; ranges are independent and parallel.

    ``processes`` > 1 counts the ranges in that many worker processes (``connection`` lets each one
    connect, see :mod:`.parallel`) and sums them; 0 means one per core."""
    workers = resolve_processes(processes, len(ranges))
    if workers > 1:
        kw = {"concurrency": concurrency, "local_dc": local_dc, "splits_per_vnode": splits_per_vnode}
        return _count_in_processes(table, ranges, workers, connection, kw)
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

    open_stmt, closed_stmt = _statements(session, table)
    result = CountResult()
    started = time.monotonic()

    def run_piece(planned: PlannedRange, piece: SubRange, depth: int = 0) -> tuple[int, Counter[str], int]:
        hosts = list(piece.replicas) or [None]
        attempt = {"n": 0}

        def once() -> tuple[int, Counter[str], int]:
            host = hosts[attempt["n"] % len(hosts)]
            attempt["n"] += 1
            stmt = closed_stmt if piece.tokens.includes_start else open_stmt
            bound = stmt.bind((piece.tokens.start, piece.tokens.end))
            row = session.execute(bound, host=host).one()
            return int(row[0]), Counter({str(host.address) if host else "any": int(row[0])}), 1

        try:
            for attempt_ctx in Retrying(
                retry=retry_if_exception(lambda e: _is_retryable(e) and not _is_timeout(e)),
                stop=stop_after_attempt(MAX_REPLICA_ATTEMPTS),
                wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
                reraise=True,
            ):
                with attempt_ctx:
                    return once()
        except Exception as exc:
            if _is_timeout(exc) and depth < MAX_SPLIT_DEPTH and piece.tokens.end - piece.tokens.start > 1:
                total, hosts_count, queries = 0, Counter[str](), 0
                for half in piece.tokens.split_evenly(2):
                    n, h, q = run_piece(planned, SubRange(half, piece.replicas), depth + 1)
                    total, queries = total + n, queries + q
                    hosts_count.update(h)
                return total, hosts_count, queries
            raise CountFailed(
                f"counting {table.keyspace}.{table.table} range {planned.id} tokens "
                f"({piece.tokens.start}, {piece.tokens.end}] "
                f"failed: {type(exc).__name__}: {exc}"
            ) from exc
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="count") as pool:
        futures: list[tuple[PlannedRange, Future[tuple[int, Counter[str], int]]]] = []
        for planned in ranges:
            for piece in route(
                cluster, table.keyspace, planned.tokens, local_dc=local_dc, splits_per_vnode=splits_per_vnode
            ):
                futures.append((planned, pool.submit(run_piece, planned, piece)))
        for planned, fut in futures:
            n, hosts_count, queries = fut.result()
            result.per_range[planned.id] = result.per_range.get(planned.id, 0) + n
            result.per_host.update(hosts_count)
            result.queries += queries
            result.total += n
    result.seconds = time.monotonic() - started
    return result


def _range_counter(kw: dict[str, Any], cluster: Any, session: Any, table: TableInfo, _events: Any) -> Any:
    """A worker process's range function: count one planned range."""

    def one(planned: PlannedRange) -> CountResult:
        return count_table(cluster, session, table, [planned], **kw)

    return one


def _count_in_processes(
    table: TableInfo, ranges: list[PlannedRange], workers: int, connection: Any, kw: dict[str, Any]
) -> CountResult:
    """Per-range counts from worker processes, summed; the first failure fails the count."""
    from .events import Listener
    from .parallel import run_in_processes

    started = time.monotonic()
    parts, failures = run_in_processes(
        ranges, partial(_range_counter, kw), processes=workers, connection=connection, table=table, events=Listener()
    )
    if failures:
        first = failures[0]
        if isinstance(first, BulkError):
            raise first
        raise CountFailed(str(first)) from first
    result = CountResult()
    for part in parts:
        result.per_range.update(part.per_range)
        result.per_host.update(part.per_host)
        result.queries += part.queries
        result.total += part.total
    result.seconds = time.monotonic() - started
    return result


def count_window(cluster: Any, session: Any, table: TableInfo, window: TokenRange, **kwargs: Any) -> int:
    """Rows whose partition token falls in ``window`` (an explicit start/end token pair)."""
    return count_table(cluster, session, table, [PlannedRange(0, 1, window)], **kwargs).total
