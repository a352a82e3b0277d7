"""A load in ``N`` worker processes (``--processes N``): each owns its connection and a share of
the source's blocks (see :mod:`.shares`), and every record is written at the time one process would
write it.

One Python process binds, groups and sends on about one core (the interpreter lock); reading and
tokenizing the source is a small part of that. So every worker reads the whole source, in order,
and converts and sends only its own blocks, advancing positions over the others': write times stay
the operation timestamp + the record's position in the whole load, whichever worker sends it, and
the last record of a key still wins.

The parent:

- checks everything a one-process load checks before writing (options, source, mapping), then
  fixes what every worker must share: the operation timestamp and id (a resumed load's, from its
  checkpoint), an Iceberg source's snapshot, and the JSON fields;
- writes the load's checkpoint (``checkpoint.json`` in the operation directory) before starting
  the workers, and while they run merges their checkpoints (``worker-K-of-N/checkpoint.json``)
  into it every checkpoint interval and once at the end: ``--resume`` finds it like a
  one-process load's, and resumes it with any number of processes (1 included);
- spawns the workers (**spawn**: never a fork of a process running driver threads), each with a
  pipe of its own back to the parent (events, its counts, its result), so a worker that dies
  mid-message can block no other;
- feeds their events to its listeners (progress summed; a resource is started when the first worker
  starts it, finished when every worker has finished it), watches ``max_errors`` on the sum of
  their counts and stops them all when it is passed; a cancel (``LoadOptions.cancel``, Ctrl-C)
  or a worker that dies or fails stops the others too, each saving its checkpoint;
- merges their reject and unknown-outcome files into the operation directory, sums their results.

``--processes 1`` never comes here: it is the one-process load, unchanged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import json
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import BulkError, ConfigError, LoadCancelled, LoadFailed
from ..events import CompositeListener, Listener, RangeEvent
from ..parallel import EXIT_ON_RANGE_ENV, WorkerDied, _one_line, _QueueListener, _sigint_ignored
from ..sources import IcebergSource
from ..table import TableInfo
from .checkpoint import Checkpoint, _find_checkpoint, _fingerprint, merge_checkpoints
from .inputs import open_source, source_format
from .mapping import _resolve
from .options import LoadAborted, LoadOptions, LoadResult, _parse_max_errors, _window
from .shares import Share

MAX_AUTO_PROCESSES = 8
"""``processes=0`` (one per core) takes at most this many: every worker reads the whole source, so
past a few workers the reading they repeat outweighs the sending they share."""

EXIT_AFTER_ROWS_ENV = "CASSANDRA_BULK_TEST_LOAD_WORKER_EXIT"
"""Test hook: ``worker-1-of-2:5000`` makes that worker ``os._exit(1)`` once 5000 of its rows are
acknowledged (a worker dying mid-load, its writes in flight). ``parallel.EXIT_ON_RANGE_ENV`` set to
a worker's id makes it exit before it connects."""

STOP_GRACE = 120.0
"""Seconds the workers get to stop cleanly (requests in flight answered, checkpoint written) once
told to; then they are terminated."""

INTERRUPT_GRACE = 15.0
"""The same after Ctrl-C (a second Ctrl-C terminates them at once)."""

SUM_FIELDS = (
    "records",
    "rows_written",
    "rejected",
    "failed_writes",
    "skipped_other_range",
    "skipped_resumed",
    "bytes_read",
    "retries",
    "unknown_outcome",
)


def resolve_load_processes(processes: int | None, options: LoadOptions) -> int:
    """``1`` loads in this process; ``0``/None means one per core, at most :data:`MAX_AUTO_PROCESSES`.
    Standard input is read once, so it takes one process (asked for more, explicitly: an error)."""
    if processes is not None and processes < 0:
        raise ConfigError(f"--processes must be 0 (one per core) or more, not {processes}")
    if processes == 1:
        return 1
    stdin = options.source == "-" and options.format != "iceberg" and options.iceberg is None
    if stdin:
        if not processes:
            return 1
        raise ConfigError(
            f"--processes {processes}: standard input can be read once, and every worker process reads the "
            "whole source; load a file (or directory), or use --processes 1"
        )
    if not processes:
        return max(1, min(os.cpu_count() or 1, MAX_AUTO_PROCESSES))
    return processes


def load_in_processes(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: LoadOptions,
    listener: Listener | None,
    operation_id: str | None,
    *,
    processes: int,
    connection: Any,
) -> LoadResult:
    """:func:`~.loader.load_table` in ``processes`` worker processes (see the module docstring)."""
    if connection is None:
        raise ConfigError("loading in several processes needs the connection settings (connection=ConnectionConfig)")
    return _Parent(cluster, session, info, options, listener, operation_id, processes, connection).run()


# -- worker side -----------------------------------------------------------------------------------


class _Channel:
    """A worker's end of its pipe to the parent, safe to share between the worker's threads. A
    parent that is gone stops the worker (``gone`` is set; messages are dropped)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.lock = threading.Lock()
        self.gone = threading.Event()

    def put(self, message: Any) -> None:
        if self.gone.is_set():
            return
        with self.lock:
            try:
                self.conn.send(message)
            except (OSError, EOFError, ValueError):
                self.gone.set()


class _WorkerEvents(_QueueListener):
    """Events to the parent (range events at once, progress coalesced), with the test hook."""

    def __init__(self, channel: _Channel, share: Share):
        super().__init__(channel)
        self.exit_after: int | None = None
        self.acknowledged = 0
        hook = os.environ.get(EXIT_AFTER_ROWS_ENV, "")
        if hook.partition(":")[0] == share.id:
            self.exit_after = int(hook.partition(":")[2] or 0)

    def on_progress(self, rows: int, bytes_: int) -> None:
        super().on_progress(rows, bytes_)
        if self.exit_after is not None:
            self.acknowledged += rows
            if self.acknowledged >= self.exit_after:
                os._exit(1)


@dataclass
class _Outcome:
    """What a worker sends back last: how it ended and its result (None if it never started)."""

    index: int
    status: str = "failed"
    """ok | aborted (max_errors) | cancelled | failed"""
    result: LoadResult | None = None
    message: str = ""
    exit_code: int = 4
    transient: bool = True


def _worker_main(
    connection: Any,
    keyspace: str,
    table: str,
    options: LoadOptions,
    share: Share,
    operation_id: str,
    conn: Any,
    cancel_all: Any,
    abort_all: Any,
) -> None:
    """A worker process: connect, load its share, send its outcome, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C stops us through it
    logging.getLogger("cassandra_bulk.load").addFilter(_said_by_the_parent)
    channel = _Channel(conn)
    events = _WorkerEvents(channel, share)
    outcome = _Outcome(share.index)
    loader: Any = None
    try:
        if os.environ.get(EXIT_ON_RANGE_ENV) == share.id:
            os._exit(1)
        from ..table import resolve_table
        from .loader import Loader

        cluster, session = connection.connect()
        info = resolve_table(cluster, keyspace, table)
        cancel = threading.Event()
        loader = Loader(cluster, session, info, replace(options, cancel=cancel), events, operation_id, share=share)
        done = threading.Event()
        watcher = threading.Thread(
            target=_watch, args=(loader, channel, share, cancel, cancel_all, abort_all, done), daemon=True
        )
        watcher.start()
        try:
            loader.run()
            outcome.status = "ok"
        finally:
            done.set()
            watcher.join(timeout=5)
    except LoadAborted:
        outcome.status = "aborted"
    except LoadCancelled:
        outcome.status = "cancelled"
    except BulkError as exc:
        outcome.message, outcome.exit_code, outcome.transient = _one_line(exc), exc.exit_code, exc.transient
    except BaseException as exc:
        outcome.message = _one_line(exc)
    if loader is not None:
        outcome.result = loader.result
        channel.put(("counts", share.index, *_counts(loader)))
    events.flush()
    channel.put(("result", outcome))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # No interpreter shutdown (driver threads, atexit): the exit code says the outcome was sent.
    os._exit(0)


def _said_by_the_parent(record: logging.LogRecord) -> bool:
    """The mapping's warnings (source fields mapped to no column) are the parent's to log, once."""
    return not str(record.msg).startswith("source field(s)")


def _counts(loader: Any) -> tuple[int, int]:
    with loader.lock:
        result = loader.result
        return result.records, result.rejected + result.failed_writes + result.unknown_outcome


def _watch(
    loader: Any,
    channel: _Channel,
    share: Share,
    cancel: threading.Event,
    cancel_all: Any,
    abort_all: Any,
    done: threading.Event,
) -> None:
    """A worker's link to its parent's decisions, and its counts to the parent every 0.2 s."""
    last: tuple[int, int] | None = None
    while not done.wait(0.1):
        if cancel_all.is_set() or channel.gone.is_set():
            cancel.set()
        if abort_all.is_set():
            loader.stop_requested = True
        counts = _counts(loader)
        if counts != last:
            channel.put(("counts", share.index, *counts))
            last = counts


# -- parent side -----------------------------------------------------------------------------------


class _Aggregate:
    """The workers' messages, as the parent's listeners should see them, and their counts and outcomes."""

    def __init__(self, events: Listener, workers: int):
        self.events, self.workers = events, workers
        self.lock = threading.Lock()
        self.started: set[str] = set()
        self.finished: dict[str, int] = {}
        self.failed: set[str] = set()
        self.counts: dict[int, tuple[int, int]] = {}
        self.outcomes: dict[int, _Outcome] = {}

    def handle(self, message: Any) -> None:
        kind = message[0]
        if kind == "progress":
            self.events.on_progress(message[1], message[2])
        elif kind == "counts":
            with self.lock:
                self.counts[message[1]] = (message[2], message[3])
        elif kind == "result":
            with self.lock:
                self.outcomes[message[1].index] = message[1]
        elif kind == "on_range_started":
            event: RangeEvent = message[1]
            if event.range_id not in self.started:
                self.started.add(event.range_id)
                self.events.on_range_started(event)
        elif kind == "on_range_finished":
            event = message[1]
            self.finished[event.range_id] = self.finished.get(event.range_id, 0) + 1
            if self.finished[event.range_id] == self.workers:  # every worker's share of it is done
                self.events.on_range_finished(event)
        elif kind == "on_range_failed":
            event = message[1]
            if event.range_id not in self.failed:
                self.failed.add(event.range_id)
                self.events.on_range_failed(event)

    def totals(self) -> tuple[int, int]:
        with self.lock:
            return sum(c[0] for c in self.counts.values()), sum(c[1] for c in self.counts.values())


class _Pump(threading.Thread):
    """Reads every worker's pipe until each is closed (its worker exited and all it sent is read)."""

    def __init__(self, readers: list[Any], aggregate: _Aggregate):
        super().__init__(name="load-workers", daemon=True)
        self.readers, self.aggregate = list(readers), aggregate

    def run(self) -> None:
        open_readers = list(self.readers)
        while open_readers:
            for reader in multiprocessing.connection.wait(open_readers, timeout=0.5):
                try:
                    message = reader.recv()  # type: ignore[union-attr,call-arg]
                except (EOFError, OSError):
                    open_readers.remove(reader)
                    continue
                try:
                    self.aggregate.handle(message)
                except Exception:  # a listener's failure is the composite's to report
                    continue


@dataclass
class _Stop:
    reason: str | None = None
    """died | failed | cancelled | aborted | interrupted"""
    at: float | None = None
    dead: dict[int, int] = field(default_factory=dict)
    """Worker index → exit code, for workers that ended without an outcome."""
    terminated: bool = False
    """Workers still running ``STOP_GRACE`` seconds after they were told to stop were terminated."""


class _Parent:
    """One load in several processes: everything that can fail before a write fails in the
    constructor, like :class:`~.loader.Loader`'s."""

    def __init__(
        self,
        cluster: Any,
        session: Any,
        info: TableInfo,
        options: LoadOptions,
        listener: Listener | None,
        operation_id: str | None,
        processes: int,
        connection: Any,
    ):
        info.check_writable()
        self.info, self.connection, self.n = info, connection, processes
        self.events = CompositeListener([listener] if listener else [])
        self.fmt = source_format(options)
        _window(options)
        self.max_count, self.max_ratio = _parse_max_errors(options.max_errors)
        self.source = open_source(info, options, self.fmt)
        self.plan = _resolve(session, info, options, self.source.fields)
        if self.plan.list_columns:
            lists = ", ".join(sorted(self.plan.list_columns))
            raise ConfigError(
                f"--processes {processes}: non-frozen list column(s) {lists} are written at each request's own "
                "client time (see the load docs), so with several worker processes the last record of a key "
                "would not reliably win; use --processes 1"
            )
        if self.fmt == "iceberg" and self.source.snapshot is not None:
            # Every worker reads the snapshot the parent resolved, even if a commit lands meanwhile.
            ice = options.iceberg or IcebergSource(table=options.source)
            options = replace(options, iceberg=replace(ice, snapshot_id=self.source.snapshot, as_of=None))
        self.options = options
        self.fp = _fingerprint(info, options, self.fmt, self.source.snapshot)
        self.operation_id = operation_id or uuid.uuid4().hex[:12]
        self.start, self.resumed_from = self._resume_point()
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.op_dir = os.path.join(options.log_dir, f"load_{stamp}_{self.operation_id}")
        os.makedirs(self.op_dir, exist_ok=True)
        self.path = os.path.join(self.op_dir, "checkpoint.json")
        if self.start is None:
            self.start = Checkpoint(self.path, self.fp, self.operation_id, int(time.time() * 1_000_000))
        self.start = merge_checkpoints(self.start, [], self.path)
        self.start.write(force=True)  # before any worker starts: --resume always finds this run
        jsonl_fields = self.source.fields if self.fmt == "jsonl" else None
        self.shares = [
            Share(
                k,
                processes,
                os.path.join(self.op_dir, f"worker-{k}-of-{processes}"),
                self.path,
                self.resumed_from,
                jsonl_fields,
            )
            for k in range(processes)
        ]
        self.stop = _Stop()
        self.aggregate = _Aggregate(self.events, processes)

    def _resume_point(self) -> tuple[Checkpoint | None, str | None]:
        """The run ``--resume`` continues (one process or several: its workers' checkpoints merged
        in, as fresh as they are), or None."""
        options = self.options
        if not options.resume:
            return None, None
        path = options.checkpoint or _find_checkpoint(options.log_dir, self.fp)
        if not path:
            return None, None
        checkpoint = Checkpoint.read(path)
        if checkpoint.share is not None:
            top = os.path.join(os.path.dirname(os.path.dirname(path)), "checkpoint.json")
            raise ConfigError(
                f"checkpoint {path} is one worker's share of a load in {checkpoint.share[1]} processes; "
                f"resume the whole load (--resume, or --checkpoint {top})"
            )
        if checkpoint.fingerprint != self.fp:
            raise ConfigError(f"checkpoint {path} belongs to a different load (source, table or options)")
        return _with_workers(checkpoint, path), path

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> LoadResult:
        started = time.monotonic()
        self.events.on_start(
            self.operation_id,
            self.source.resource_count,
            {
                "table": f"{self.info.keyspace}.{self.info.table}",
                "source": self.options.source,
                "format": self.fmt,
                "processes": self.n,
            },
        )
        ctx = multiprocessing.get_context("spawn")
        cancel_all, abort_all = ctx.Event(), ctx.Event()
        options = self._worker_options()
        procs: list[Any] = []
        readers: list[Any] = []
        pump: _Pump | None = None
        try:
            with _sigint_ignored():  # spawned workers inherit it: a terminal's Ctrl-C is the parent's alone
                for share in self.shares:
                    reader, writer = ctx.Pipe(duplex=False)
                    readers.append(reader)
                    proc = ctx.Process(
                        target=_worker_main,
                        args=(
                            self.connection,
                            self.info.keyspace,
                            self.info.table,
                            options,
                            share,
                            self.operation_id,
                            writer,
                            cancel_all,
                            abort_all,
                        ),
                        name=f"cassandra-bulk-load-{share.id}",
                        daemon=True,
                    )
                    proc.start()
                    writer.close()  # the worker's copy is the only one left: its exit closes the pipe
                    procs.append(proc)
            pump = _Pump(readers, self.aggregate)
            pump.start()
            try:
                self._watch(procs, cancel_all, abort_all)
            except KeyboardInterrupt:
                self.stop.reason = "interrupted"
                cancel_all.set()
                with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: terminate them now
                    _join(procs, INTERRUPT_GRACE)
                raise
        except BaseException:
            self._end(procs, pump, readers)
            with contextlib.suppress(Exception):  # what the workers did is saved; the error is the news
                self._finish(time.monotonic() - started)
            raise
        self._end(procs, pump, readers)
        return self._outcome(self._finish(time.monotonic() - started))

    def _end(self, procs: list[Any], pump: _Pump | None, readers: list[Any]) -> None:
        """Every worker stopped, everything they sent read."""
        _terminate(procs)
        if pump is not None:
            pump.join(timeout=10)
        for reader in readers:
            reader.close()

    def _worker_options(self) -> LoadOptions:
        """The options every worker loads with: no cancel event (the parent relays it), no resume
        search (the parent's checkpoint is its start), and request/rate limits shared out."""
        options, n = self.options, self.n
        return replace(
            options,
            cancel=None,
            resume=False,
            checkpoint=None,
            concurrency=math.ceil(options.concurrency / n) if options.concurrency else options.concurrency,
            max_rows_per_second=options.max_rows_per_second / n if options.max_rows_per_second else None,
        )

    def _watch(self, procs: list[Any], cancel_all: Any, abort_all: Any) -> None:
        """Until every worker has exited: relay a cancel, watch the total errors, notice a worker that
        died or failed (and stop the others), merge the checkpoints now and then."""
        stop, options = self.stop, self.options
        merged_at = time.monotonic()
        while True:
            alive = [p for p in procs if p.exitcode is None]
            if not alive:
                return
            multiprocessing.connection.wait([p.sentinel for p in alive], timeout=0.2)
            for k, proc in enumerate(procs):
                if proc.exitcode not in (None, 0) and k not in stop.dead:
                    stop.dead[k] = proc.exitcode
            reason = self._reason()
            if reason is not None and stop.reason is None:
                stop.reason, stop.at = reason, time.monotonic()
                (abort_all if reason == "aborted" else cancel_all).set()
            if stop.at is not None and time.monotonic() - stop.at > STOP_GRACE:
                stop.terminated = True
                _terminate(procs)
            if time.monotonic() - merged_at >= options.checkpoint_seconds:
                with contextlib.suppress(OSError, ValueError):
                    self._merge_checkpoints()
                merged_at = time.monotonic()

    def _reason(self) -> str | None:
        """Why every worker should stop now, if they should."""
        if self.stop.dead:
            return "died"
        with self.aggregate.lock:
            statuses = {o.status for o in self.aggregate.outcomes.values()}
        if "failed" in statuses:
            return "failed"
        if self.options.cancel is not None and self.options.cancel.is_set():
            return "cancelled"
        if "aborted" in statuses or self._over_limit(*self.aggregate.totals()):
            return "aborted"
        return None

    def _over_limit(self, records: int, errors: int) -> bool:
        max_count, max_ratio = self.max_count, self.max_ratio
        return (max_count is not None and errors > max_count) or (
            max_ratio is not None and records >= 100 and errors / max(1, records) > max_ratio
        )

    # -- the end -----------------------------------------------------------------------------------

    def _finish(self, seconds: float) -> LoadResult:
        """Merge the workers' checkpoints and reject files into the operation's, sum their results."""
        self._merge_checkpoints()
        _merge_logs(self.op_dir, [s.directory for s in self.shares], self.fmt, self.source.header)
        result = LoadResult(
            self.operation_id,
            self.info.keyspace,
            self.info.table,
            self.options.source,
            log_dir=self.op_dir,
            timestamp=self.options.write_timestamp or self.start.timestamp,  # type: ignore[union-attr]
            unmapped_fields=list(self.plan.unmapped),
            seconds=seconds,
        )
        outcomes = self.aggregate.outcomes
        for outcome in outcomes.values():
            if outcome.result is not None:
                for name in SUM_FIELDS:
                    setattr(result, name, getattr(result, name) + getattr(outcome.result, name))
                result.resources = max(result.resources, outcome.result.resources)
        workers = [
            {
                "id": share.id,
                "status": outcomes[k].status if k in outcomes else "died",
                "log_dir": share.directory,
            }
            for k, share in enumerate(self.shares)
        ]
        with open(os.path.join(self.op_dir, "summary.json"), "w", encoding="utf-8") as f:
            doc = {**result.summary(), "resumed_from": self.resumed_from, "processes": self.n, "workers": workers}
            json.dump(doc, f, indent=2)
        return result

    def _merge_checkpoints(self) -> None:
        shares = []
        for share in self.shares:
            path = os.path.join(share.directory, "checkpoint.json")
            shares.append(Checkpoint.read(path) if os.path.isfile(path) else None)
        assert self.start is not None
        merge_checkpoints(self.start, shares, self.path).write(force=True)

    def _outcome(self, result: LoadResult) -> LoadResult:
        """The result, or the one error that says how the load ended."""
        stop, outcomes = self.stop, self.aggregate.outcomes
        dead = {k: code for k, code in stop.dead.items() if k not in outcomes}
        resume = f"`--resume` continues from {self.path}"
        if dead and not stop.terminated:
            names = ", ".join(f"{self.shares[k].id} (exit code {code})" for k, code in sorted(dead.items()))
            raise WorkerDied(
                f"worker process {names} died abruptly (killed, or out of memory?); the other workers stopped "
                f"and kept their checkpoints: {resume}"
            )
        if dead:  # terminated by the parent, STOP_GRACE after it told them to stop
            names = ", ".join(self.shares[k].id for k in sorted(dead))
            raise LoadFailed(
                f"load stopped ({stop.reason}); worker process {names} did not stop within {STOP_GRACE:g} s and was "
                f"terminated: {resume}"
            )
        failed = [o for o in outcomes.values() if o.status == "failed"]
        if failed or len(outcomes) < self.n:
            first = failed[0] if failed else _Outcome(-1, message="a worker process ended without a word")
            exc = LoadFailed(f"{first.message}; {resume}" if first.transient else first.message)
            exc.exit_code, exc.transient = first.exit_code, first.transient  # type: ignore[misc]
            raise exc
        if stop.reason == "cancelled" or any(o.status == "cancelled" for o in outcomes.values()):
            raise LoadCancelled(f"load into {self.info.keyspace}.{self.info.table} cancelled; {resume}")
        if stop.reason == "aborted" or self._over_limit(result.records, result.errors + result.unknown_outcome):
            result.aborted = True
            raise self._aborted(result)
        self.events.on_finish(result.summary())
        return result

    def _aborted(self, result: LoadResult) -> LoadAborted:
        suffix = {"csv": "csv", "jsonl": "jsonl"}.get(self.fmt, "jsonl")
        limit = f"{self.max_count}" if self.max_count is not None else f"{(self.max_ratio or 0) * 100:g}%"
        errors = result.errors + result.unknown_outcome
        exc = LoadAborted(
            f"aborted: {errors} rejected record(s) after {result.records} read exceeds max_errors={limit} "
            f"(summed over {self.n} worker processes); {result.rows_written} rows written. Records and reasons: "
            f"{os.path.join(self.op_dir, f'rejects.{suffix}')}, {os.path.join(self.op_dir, 'errors.log')}. "
            "Fix them and rerun with resume (--resume) to continue."
        )
        exc.result = result
        return exc


def _with_workers(checkpoint: Checkpoint, path: str) -> Checkpoint:
    """A load's checkpoint with its workers' (``worker-K-of-N/`` beside it) merged in: the parent
    merges them as it goes, but a parent killed outright leaves theirs fresher than its own."""
    found: dict[int, Checkpoint] = {}
    count = 0
    for worker_path in glob.glob(os.path.join(glob.escape(os.path.dirname(path)), "worker-*-of-*", "checkpoint.json")):
        try:
            worker = Checkpoint.read(worker_path)
        except (OSError, ValueError, KeyError):
            continue
        if worker.share is None or worker.base_fingerprint != checkpoint.fingerprint:
            continue
        if count and worker.share[1] != count:
            return checkpoint  # not one run's workers: keep the load's own
        count = worker.share[1]
        found[worker.share[0]] = worker
    if not found:
        return checkpoint
    return merge_checkpoints(checkpoint, [found.get(k) for k in range(count)], path)


def _merge_logs(op_dir: str, worker_dirs: list[str], fmt: str, header: str | None) -> None:
    """Each worker's rejects and unknown-outcome records, and their reasons, appended into the
    operation directory's files (one worker's after the other's; the CSV header once)."""
    suffix = {"csv": "csv", "jsonl": "jsonl"}.get(fmt, "jsonl")
    for name, with_header in (
        (f"rejects.{suffix}", True),
        ("errors.log", False),
        (f"unknown.{suffix}", True),
        ("unknown.log", False),
    ):
        parts = [os.path.join(d, name) for d in worker_dirs if os.path.isfile(os.path.join(d, name))]
        if not parts:
            continue
        skip = f"{header}\n".encode() if with_header and header is not None else None
        with open(os.path.join(op_dir, name), "wb") as out:
            if skip is not None:
                out.write(skip)
            for part in parts:
                with open(part, "rb") as f:
                    if skip is not None and f.read(len(skip)) != skip:
                        f.seek(0)
                    shutil.copyfileobj(f, out)


def _join(procs: list[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


def _terminate(procs: list[Any]) -> None:
    """Stop the workers still running now (SIGTERM, then SIGKILL after 5 s)."""
    alive = [p for p in procs if p.is_alive()]
    for proc in alive:
        proc.terminate()
    _join(alive, 5)
    for proc in alive:
        if proc.is_alive():
            proc.kill()
            proc.join(1)
