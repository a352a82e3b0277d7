"""Run planned ranges across worker processes, so a client machine uses more than one core.

The threads of one process share one interpreter lock: decoding pages, building Arrow batches and
encoding files all hold it, so an in-process export uses about one core however many ranges run at
once. :func:`run_in_processes` spreads the ranges over ``N`` worker processes instead:

- the pool uses the **spawn** start method (a forked copy of a process that already runs driver
  threads can deadlock); each worker connects once (the :class:`~.connection.ConnectionConfig` is
  plain data), resolves the table and builds its per-range function with ``make_runner``;
- the parent hands out one range per task, so a fast worker simply takes more ranges; a worker
  runs one range at a time (its scan keeps ``streams`` queries in flight);
- range events and (coalesced) progress come back on a queue and feed the parent's listeners, so
  the progress bar, logs, metrics and webhook show the aggregate; results come back as data;
- Ctrl-C or a cancel event in the parent terminates every worker (they ignore SIGINT themselves,
  so a terminal's Ctrl-C reaches the parent only once);
- a worker that dies (killed, out of memory) breaks the pool: every range not finished fails
  loudly, named, and a resume continues from the ranges' own checkpoints.

``--processes 1`` never comes here: it is the in-process code path, unchanged.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.util import Finalize
from typing import Any, TypeVar

from .errors import BulkError, ConfigError
from .events import Listener, RangeEvent
from .ring import PlannedRange
from .table import TableInfo

T = TypeVar("T")

EXIT_ON_RANGE_ENV = "CASSANDRA_BULK_TEST_WORKER_EXIT_ON_RANGE"
"""Test hook: a worker process given this range id exits abruptly (``os._exit(1)``) instead."""

PROGRESS_EVERY = 0.2
"""Seconds between a worker's coalesced progress messages."""

Runner = Callable[[PlannedRange], Any]
MakeRunner = Callable[[Any, Any, TableInfo, Listener], Runner]
"""``make_runner(cluster, session, table, events)`` → the per-range function, built once per worker.
It must be picklable: a module-level function, or a ``functools.partial`` of one over plain data."""


class WorkerDied(BulkError):
    """A worker process ended abruptly; the ranges it and the others had not finished are named."""

    exit_code = 4


class Cancelled(BulkError):
    exit_code = 4


class RangeError(Exception):
    """A range's failure in a worker, carried back as text (driver errors do not all pickle)."""

    def __init__(self, message: str, range_id: str = ""):
        super().__init__(message)
        self.range_id = range_id

    def __reduce__(self) -> Any:
        return (RangeError, (str(self), self.range_id))


def resolve_processes(processes: int | None, ranges: int) -> int:
    """``0``/None means the machine's cores; never more processes than ranges."""
    if processes is not None and processes < 0:
        raise ConfigError(f"--processes must be 0 (all cores) or more, not {processes}")
    wanted = processes or os.cpu_count() or 1
    return max(1, min(wanted, ranges))


def without_events(options: Any) -> Any:
    """``options`` with its scan's cancel event removed (an Event cannot cross a process boundary;
    the parent watches it and terminates the workers instead)."""
    scan = getattr(options, "scan", None)
    if scan is not None and getattr(scan, "cancel", None) is not None:
        return replace(options, scan=replace(scan, cancel=None))
    return options


# -- worker side -----------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


class _QueueListener(Listener):
    """A worker's listener: range events go to the parent at once, progress at most every 0.2 s."""

    def __init__(self, queue: Any):
        self.queue = queue
        self.rows = self.bytes = 0
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def flush(self) -> None:
        with self.lock:
            rows, size, self.rows, self.bytes = self.rows, self.bytes, 0, 0
            self.last = time.monotonic()
        if rows or size:
            self.queue.put(("progress", rows, size))

    def on_progress(self, rows: int, bytes_: int) -> None:
        with self.lock:
            self.rows += rows
            self.bytes += bytes_
            due = time.monotonic() - self.last >= PROGRESS_EVERY
        if due:
            self.flush()

    def _range(self, hook: str, event: RangeEvent) -> None:
        self.flush()
        self.queue.put((hook, event))

    def on_range_started(self, event: RangeEvent) -> None:
        self._range("on_range_started", event)

    def on_range_finished(self, event: RangeEvent) -> None:
        self._range("on_range_finished", event)

    def on_range_failed(self, event: RangeEvent) -> None:
        self._range("on_range_failed", event)


def _init_worker(connection: Any, keyspace: str, table: str, make_runner: MakeRunner, queue: Any) -> None:
    """Once per worker: connect, resolve the table, build the range function. A failure is kept and
    reported by every task as one line (an initializer that raises would print a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it terminates us on Ctrl-C
    from .table import resolve_table

    events = _QueueListener(queue)
    _worker["events"] = events
    try:
        cluster, session = connection.connect()
        _worker["cluster"] = cluster
        Finalize(None, cluster.shutdown, exitpriority=10)  # workers end with os._exit: no atexit
        info = resolve_table(cluster, keyspace, table)
        _worker["run"] = make_runner(cluster, session, info, events)
    except BaseException as exc:
        _worker["error"] = _one_line(exc)


def _run_range(planned: PlannedRange) -> Any:
    events: _QueueListener = _worker["events"]
    events.queue.put(("begin", planned.id, os.getpid()))
    try:
        if os.environ.get(EXIT_ON_RANGE_ENV) == planned.id:
            os._exit(1)
        if "error" in _worker:
            raise RangeError(f"worker process could not start: {_worker['error']}", planned.id)
        return _worker["run"](planned)
    except RangeError:
        raise
    except BaseException as exc:
        raise RangeError(_one_line(exc), planned.id) from None
    finally:
        events.flush()
        events.queue.put(("done", planned.id))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line if isinstance(exc, BulkError) and line else f"{type(exc).__name__}: {line}".rstrip(": ")


# -- parent side -----------------------------------------------------------------------------------


class _EventPump(threading.Thread):
    """Feeds the workers' messages to the parent's listeners, in each worker's order."""

    def __init__(self, queue: Any, events: Listener):
        super().__init__(name="bulk-events", daemon=True)
        self.queue, self.events = queue, events
        self.running: dict[str, int] = {}
        self.done = 0
        self.cond = threading.Condition()

    def run(self) -> None:
        while True:
            msg = self.queue.get()
            if msg is None:
                return
            kind = msg[0]
            if kind == "progress":
                self.events.on_progress(msg[1], msg[2])
            elif kind == "begin":
                with self.cond:
                    self.running[msg[1]] = msg[2]
            elif kind == "done":
                with self.cond:
                    self.running.pop(msg[1], None)
                    self.done += 1
                    self.cond.notify_all()
            else:
                getattr(self.events, kind)(msg[1])

    def wait_done(self, count: int, timeout: float) -> None:
        """Until ``count`` tasks have reported their last message (their events are all delivered)."""
        with self.cond:
            self.cond.wait_for(lambda: self.done >= count, timeout)

    def stop(self) -> None:
        self.queue.put(None)
        self.join(timeout=10)


@dataclass
class _Outcome:
    results: list[Any]
    failures: list[BaseException]
    broken: list[str]


def run_in_processes(
    plan: list[PlannedRange],
    make_runner: MakeRunner,
    *,
    processes: int,
    connection: Any,
    table: TableInfo,
    events: Listener,
    cancel: threading.Event | None = None,
    operation_id: str = "",
) -> tuple[list[Any], list[BaseException]]:
    """Run ``make_runner``'s range function for every range of ``plan`` in ``processes`` workers.

    Like :func:`.export.run_ranges`: results in plan order, every range tried even when others fail.
    A dead worker fails every unfinished range with one :class:`WorkerDied` naming them all."""
    if connection is None:
        raise ConfigError("running in several processes needs the connection settings (ConnectionConfig)")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.SimpleQueue()  # a synchronous put: a worker's "begin" is seen even if it dies right after
    pump = _EventPump(queue, events)
    pump.start()
    pool = ProcessPoolExecutor(
        max_workers=processes,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(connection, table.keyspace, table.table, make_runner, queue),
    )
    try:
        with _sigint_ignored():  # spawned workers inherit it: a terminal's Ctrl-C is the parent's alone
            futures = [pool.submit(_run_range, planned) for planned in plan]
        _wait_all(futures, cancel)
        outcome = _collect(plan, futures)
        pump.wait_done(len(plan) - len(outcome.broken), timeout=5 if outcome.broken else 30)
        running = dict(pump.running)
    except BaseException:
        _terminate(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        pump.stop()
        queue.close()
    if outcome.broken:  # one failure per unfinished range, the named one first
        died = _worker_died(outcome.broken, running)
        outcome.failures[:0] = [died] * len(outcome.broken)
        for range_id in outcome.broken:
            events.on_range_failed(RangeEvent(operation_id, range_id, error=str(died)))
    return outcome.results, outcome.failures


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while workers are spawned (only the main thread can change it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_all(futures: list[Future[Any]], cancel: threading.Event | None) -> None:
    """Wait for every task; a set cancel event stops the run (the caller terminates the workers)."""
    pending = set(futures)
    while pending:
        _done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled: worker processes stopped; finished ranges are kept")


def _collect(plan: list[PlannedRange], futures: list[Future[Any]]) -> _Outcome:
    outcome = _Outcome([], [], [])
    for planned, fut in zip(plan, futures, strict=True):
        try:
            outcome.results.append(fut.result())
        except BrokenProcessPool:
            outcome.broken.append(planned.id)
        except BaseException as exc:
            outcome.failures.append(exc)
    return outcome


def _worker_died(broken: list[str], running: dict[str, int]) -> WorkerDied:
    where = f" while range(s) {', '.join(sorted(running))} were running" if running else ""
    return WorkerDied(
        f"a worker process died abruptly (killed, or out of memory?){where}; "
        f"{len(broken)} range(s) not finished: {', '.join(broken)}"
    )


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now: Ctrl-C or a cancel in the parent."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + 5
    for proc in processes:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1)
