"""asyncio front end: ``await export(...)``, ``await load(...)``, ``await count(...)`` and a stream of
progress events, for applications that already run an event loop (a web service, a notebook).

The engine is threads and blocking driver calls; it runs unchanged in one worker thread per
operation, so the event loop never blocks. Cancelling the awaiting task sets the operation's cancel
event (``ScanOptions.cancel`` / ``LoadOptions.cancel``), which stops the work within a few seconds
(requests in flight finish, nothing new is sent); the task ends with ``CancelledError`` once the
worker thread has stopped, so nothing runs on behind the caller's back. Progress: every call
returns an :class:`Operation`, awaitable for the result, whose :meth:`Operation.events` is an async
iterator of :class:`ProgressEvent`::

    op = aio.export(cluster, session, info, ExportOptions(destination="out/events"))
    async for event in op.events():
        print(event.kind, event.range_id, event.rows_total)
    result = await op
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from .events import CompositeListener, Listener, RangeEvent

T = TypeVar("T")

PROGRESS_INTERVAL = 0.2
"""Seconds between two ``progress`` events (range events are never coalesced)."""


@dataclass(frozen=True)
class ProgressEvent:
    """One thing that happened in an operation, as the engine's listener saw it.

    ``kind``: ``start``, ``range_started``, ``range_finished``, ``range_failed``, ``progress``,
    ``finish`` (the engine's summary), and last ``done`` (the operation ended: ``error`` is set if
    it failed or was cancelled)."""

    kind: str
    operation_id: str | None = None
    range_id: str | None = None
    rows: int = 0
    bytes: int = 0
    rows_total: int = 0
    """Rows processed so far in the whole operation."""
    bytes_total: int = 0
    ranges_done: int = 0
    ranges_total: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class _QueueListener(Listener):
    """Engine events (any thread) → the loop's queue, progress coalesced."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[ProgressEvent | None]) -> None:
        self.loop, self.queue = loop, queue
        self.lock = threading.Lock()
        self.operation_id: str | None = None
        self.rows = self.bytes = self.done = self.total = 0
        self.last = 0.0

    def put(self, kind: str, **kw: Any) -> None:
        event = ProgressEvent(
            kind,
            self.operation_id,
            rows_total=self.rows,
            bytes_total=self.bytes,
            ranges_done=self.done,
            ranges_total=self.total,
            **kw,
        )
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening any more
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        with self.lock:
            self.operation_id, self.total = operation_id, total_ranges
            self.put("start", details=dict(info))

    def on_range_started(self, event: RangeEvent) -> None:
        with self.lock:
            self.put("range_started", range_id=event.range_id)

    def on_range_finished(self, event: RangeEvent) -> None:
        with self.lock:
            self.done += 1
            details = {"files": event.files, "seconds": event.seconds, "skipped": event.skipped}
            self.put("range_finished", range_id=event.range_id, rows=event.rows, bytes=event.bytes, details=details)

    def on_range_failed(self, event: RangeEvent) -> None:
        with self.lock:
            self.put("range_failed", range_id=event.range_id, rows=event.rows, error=event.error)

    def on_progress(self, rows: int, bytes_: int) -> None:
        with self.lock:
            self.rows += rows
            self.bytes += bytes_
            now = time.monotonic()
            if now - self.last >= PROGRESS_INTERVAL:
                self.last = now
                self.put("progress", rows=rows, bytes=bytes_)

    def on_finish(self, summary: dict[str, Any]) -> None:
        with self.lock:
            self.put("finish", details=dict(summary))


class Operation(Generic[T]):
    """A running engine call: ``await op`` for its result, ``op.events()`` for its progress,
    ``op.cancel()`` to stop it (as cancelling the awaiting task does)."""

    def __init__(self, work: Callable[[Listener], T], cancel: threading.Event, listener: Listener | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[ProgressEvent | None] = asyncio.Queue()
        self._events = _QueueListener(self._loop, self._queue)
        self._cancel = cancel
        listeners = CompositeListener([x for x in (listener, self._events) if x is not None])
        self._future = asyncio.ensure_future(asyncio.to_thread(self._run, work, listeners))

    def _run(self, work: Callable[[Listener], T], listener: Listener) -> T:
        error = None
        try:
            return work(listener)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self._events.put("done", error=error)
            with contextlib.suppress(RuntimeError):  # end of the stream
                self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    def cancel(self) -> None:
        """Ask the work to stop; ``await`` then raises ``CancelledError`` once the worker stopped."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def done(self) -> bool:
        return self._future.done()

    async def events(self) -> AsyncIterator[ProgressEvent]:
        """The operation's events, in order, ending after its ``done`` event (one consumer)."""
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def result(self) -> T:
        try:
            return await asyncio.shield(self._future)
        except asyncio.CancelledError:
            self._cancel.set()  # the awaiting task was cancelled: stop the work, wait until it has
            with contextlib.suppress(BaseException):
                await self._future
            raise
        except Exception as exc:
            if self._cancel.is_set():  # the engine's "cancelled" error (ScanCancelled, ExportFailed...)
                raise asyncio.CancelledError(str(exc)) from exc
            raise

    def __await__(self) -> Generator[Any, None, T]:
        return self.result().__await__()


def export(
    cluster: Any,
    session: Any,
    table: Any,
    options: Any,
    listener: Listener | None = None,
    operation_id: str | None = None,
    *,
    iceberg: Any = None,
    processes: int = 1,
    connection: Any = None,
) -> Operation[Any]:
    """:func:`~cassandra_bulk_core.export.export_table` (or, given ``iceberg``,
    :func:`~cassandra_bulk_core.iceberg.export_to_iceberg`) without blocking the loop.

    :param cluster: the driver ``Cluster``; :param session: its ``Session``.
    :param table: the :class:`~cassandra_bulk_core.table.TableInfo` (``resolve_table``).
    :param options: :class:`~cassandra_bulk_core.export.ExportOptions`; its ``scan.cancel`` event
        is used (or one is added) so cancelling stops the scan.
    :param listener: an engine listener called besides the event stream.
    :param operation_id: as in the sync call.
    :param iceberg: :class:`~cassandra_bulk_core.iceberg.IcebergOptions`: export to Iceberg.
    :param processes: worker processes (with ``connection``), as in the sync call.
    :returns: an :class:`Operation`; ``await`` it for the :class:`ExportResult`.
    """
    cancel = options.scan.cancel or threading.Event()
    options = replace(options, scan=replace(options.scan, cancel=cancel))

    def work(events: Listener) -> Any:
        if iceberg is not None:
            from .iceberg import export_to_iceberg

            return export_to_iceberg(
                cluster,
                session,
                table,
                options,
                iceberg,
                events,
                operation_id,
                processes=processes,
                connection=connection,
            )
        from .export import export_table

        return export_table(
            cluster, session, table, options, events, operation_id, processes=processes, connection=connection
        )

    return Operation(work, cancel, listener)


def load(
    cluster: Any,
    session: Any,
    table: Any,
    options: Any,
    listener: Listener | None = None,
    operation_id: str | None = None,
    *,
    processes: int = 1,
    connection: Any = None,
) -> Operation[Any]:
    """:func:`~cassandra_bulk_core.load.load_table` without blocking the loop.

    :param cluster: the driver ``Cluster``; :param session: its ``Session``.
    :param table: the target :class:`~cassandra_bulk_core.table.TableInfo`.
    :param options: :class:`~cassandra_bulk_core.load.LoadOptions`; its ``cancel`` event is used (or
        one added): cancelling stops the load, and its checkpoint keeps what was acknowledged.
    :param listener: an engine listener called besides the event stream.
    :param operation_id: as in the sync call.
    :param processes: worker processes (with ``connection``), as in the sync call.
    :returns: an :class:`Operation`; ``await`` it for the :class:`LoadResult`.
    """
    cancel = options.cancel or threading.Event()
    options = replace(options, cancel=cancel)

    def work(events: Listener) -> Any:
        from .load import load_table

        return load_table(
            cluster, session, table, options, events, operation_id, processes=processes, connection=connection
        )

    return Operation(work, cancel, listener)


def count(
    cluster: Any,
    session: Any,
    table: Any,
    ranges: list[Any],
    *,
    concurrency: int = 8,
    local_dc: str | None = None,
    splits_per_vnode: int = 1,
    listener: Listener | None = None,
) -> Operation[Any]:
    """:func:`~cassandra_bulk_core.count.count_table` without blocking the loop.

    The ranges are counted ``2 * concurrency`` at a time (one sync call each), so a cancel stops
    between two such groups and every group reports its ranges as ``range_finished`` events.

    :param cluster: the driver ``Cluster``; :param session: its ``Session``.
    :param table: the :class:`~cassandra_bulk_core.table.TableInfo`.
    :param ranges: planned ranges (``plan_ranges(N)``).
    :param concurrency: queries in flight, as in the sync call.
    :param local_dc: replicas of this DC first; :param splits_per_vnode: as in the sync call.
    :param listener: an engine listener called besides the event stream.
    :returns: an :class:`Operation`; ``await`` it for the :class:`CountResult`.
    """
    cancel = threading.Event()

    def work(events: Listener) -> Any:
        import uuid

        from .count import CountResult, count_table
        from .scan import ScanCancelled

        operation_id = uuid.uuid4().hex[:12]
        events.on_start(operation_id, len(ranges), {"table": f"{table.keyspace}.{table.table}", "kind": "count"})
        total = CountResult()
        started = time.monotonic()
        step = max(1, 2 * concurrency)
        for i in range(0, len(ranges), step):
            if cancel.is_set():
                raise ScanCancelled(f"count of {table.keyspace}.{table.table} cancelled after {i} range(s)")
            part = count_table(
                cluster,
                session,
                table,
                ranges[i : i + step],
                concurrency=concurrency,
                local_dc=local_dc,
                splits_per_vnode=splits_per_vnode,
            )
            total.total += part.total
            total.per_range.update(part.per_range)
            total.per_host.update(part.per_host)
            total.queries += part.queries
            for planned in ranges[i : i + step]:
                rows = part.per_range.get(planned.id, 0)
                events.on_progress(rows, 0)
                events.on_range_finished(RangeEvent(operation_id, planned.id, rows))
        total.seconds = time.monotonic() - started
        events.on_finish({"operation_id": operation_id, **total.to_dict()})
        return total

    return Operation(work, cancel, listener)
