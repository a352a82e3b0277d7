"""The load: source chunks → bound statements → requests in flight, with the checkpoint, the rejects
and ``max_errors`` kept as it goes (see the package docstring for the guarantees).

:class:`Loader` holds one load's state; :func:`load_table` is the public entry point."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..errors import BulkError, ConfigError, LoadCancelled, LoadFailed
from ..events import CompositeListener, Listener, RangeEvent
from ..sources import Chunk, Reject
from ..table import TableInfo
from .batching import _group, _group_singles, _replica_function, _Rows, _token_function
from .binding import _Binder, _Bound
from .checkpoint import Checkpoint, _find_checkpoint, _fingerprint, _mark_complete_when_done, _Positions, _spans
from .executor import Executor, auto_concurrency
from .inputs import _chunks, open_source, source_format
from .mapping import _resolve, function_values, with_functions
from .options import LoadAborted, LoadOptions, LoadResult, _limit_crossing, _parse_max_errors, _window
from .rejects import RejectLog, _raw
from .shares import Share
from .statements import _ChunkState, _Statements


def load_table(
    cluster: Any,
    session: Any,
    info: TableInfo,
    options: LoadOptions,
    listener: Listener | None = None,
    operation_id: str | None = None,
    *,
    processes: int = 1,
    connection: Any = None,
) -> LoadResult:
    """Load ``options.source`` into ``info``'s table; see the package docstring for the guarantees.

    ``processes`` > 1 loads in that many worker processes, each with its own connection (from
    ``connection``, the :class:`~cassandra_bulk_core.connection.ConnectionConfig`) and a share of
    the source's chunks, every record at the same write time as in one process (see
    :mod:`.processes`); 1 loads here; 0 means one per core, at most
    :data:`~.processes.MAX_AUTO_PROCESSES`."""
    from .processes import load_in_processes, resolve_load_processes

    workers = resolve_load_processes(processes, options)
    if workers > 1:
        return load_in_processes(
            cluster, session, info, options, listener, operation_id, processes=workers, connection=connection
        )
    return Loader(cluster, session, info, options, listener, operation_id).run()


class Loader:
    """One load. Everything that can fail on the options or the source fails in the constructor,
    before the operation directory is made or anything is written; :meth:`run` loads."""

    def __init__(
        self,
        cluster: Any,
        session: Any,
        info: TableInfo,
        options: LoadOptions,
        listener: Listener | None = None,
        operation_id: str | None = None,
        share: Share | None = None,
    ):
        """``share``: this is one worker process's share of a load in several (see :mod:`.processes`)."""
        from cassandra import ConsistencyLevel

        info.check_writable()
        self.cluster, self.session, self.info, self.options = cluster, session, info, options
        self.events = CompositeListener([listener] if listener else [])
        self.fmt = source_format(options)
        self.window = _window(options)
        self.operation_id = operation_id or uuid.uuid4().hex[:12]
        self.consistency = ConsistencyLevel.name_to_value[options.consistency.upper()]
        self.share = share
        self.source = open_source(info, options, self.fmt, share.jsonl_fields if share is not None else None)
        self.plan = _resolve(session, info, options, self.source.fields)
        if self.source.fields_from_stdin:
            self.plan.source_fields = None  # learned from stdin's first line as it is read
        self._open_operation(_fingerprint(info, options, self.fmt, self.source.snapshot))
        self.max_count, self.max_ratio = _parse_max_errors(options.max_errors)
        self.stop_requested = False
        """Set by a worker process's parent: the load's total passed ``max_errors`` (see ``processes``)."""
        if share is not None:
            # One worker's ratio says nothing about the load's: the parent checks it on the sum. A
            # count passed here is passed in total, so it still stops the worker at once.
            self.max_ratio = None
        self.positions = _Positions(self.checkpoint)
        self.function_values = function_values(self.plan, self.op_timestamp, self.checkpoint.operation_id)
        self.result = LoadResult(
            self.operation_id,
            info.keyspace,
            info.table,
            options.source,
            log_dir=self.op_dir,
            timestamp=options.write_timestamp or self.op_timestamp,
            unmapped_fields=list(self.plan.unmapped),
        )
        self.statements = _Statements(session, info, self.plan, self.consistency)
        self.binder = _Binder(self.statements, self.plan, options, len(info.partition_key))
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.token_of = _token_function(cluster)
        batch_by_replicas = options.batch_mode in ("replica-set", "auto")
        self.replicas_of = _replica_function(cluster, info.keyspace) if batch_by_replicas else None
        # Counter increments go one by one: an unlogged batch may not hold them, and a request whose
        # outcome is unknown should hold one record, not many.
        self.group_options = replace(options, batch_mode="disabled") if self.plan.counter else options
        self.executor: Executor | None = None
        self.last_resource: str | None = None
        self.failed_resources: set[str] = set()
        """Resources with writes that failed after every retry: never marked complete."""

    def _open_operation(self, fp: str) -> None:
        """The operation directory, the checkpoint (resumed or new) and the reject files."""
        if self.share is not None:
            self._open_share(fp)
            return
        options = self.options
        checkpoint: Checkpoint | None = None
        self.resumed_from = None
        if options.resume:
            self.resumed_from = options.checkpoint or _find_checkpoint(options.log_dir, fp)
            if self.resumed_from:
                checkpoint = Checkpoint.read(self.resumed_from)
                if checkpoint.fingerprint != fp:
                    raise ConfigError(
                        f"checkpoint {self.resumed_from} belongs to a different load (source, table or options)"
                    )
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.op_dir = os.path.join(options.log_dir, f"load_{stamp}_{self.operation_id}")
        os.makedirs(self.op_dir, exist_ok=True)
        self.op_timestamp = checkpoint.timestamp if checkpoint else int(time.time() * 1_000_000)
        path = os.path.join(self.op_dir, "checkpoint.json")
        if checkpoint is None:
            checkpoint = Checkpoint(path, fp, self.operation_id, self.op_timestamp)
        else:
            checkpoint.path = path
        self.checkpoint = checkpoint
        self.rejects = RejectLog(self.op_dir, self.fmt, self.source.header)
        self.unknown = RejectLog(self.op_dir, self.fmt, self.source.header, "unknown", "unknown.log")

    def _open_share(self, fp: str) -> None:
        """A worker's directory and checkpoint: it starts from the one its parent wrote (new, or the
        run it resumes, merged), with the parent's operation timestamp, so every worker gives every
        record the write time one process would."""
        share = self.share
        assert share is not None
        start = Checkpoint.read(share.start)
        if start.fingerprint != fp:
            raise ConfigError(
                f"worker {share.id}: the source or table changed under the load (checkpoint {share.start})"
            )
        self.resumed_from = share.resumed_from
        self.op_dir = share.directory
        os.makedirs(self.op_dir, exist_ok=True)
        self.op_timestamp = start.timestamp
        start.path = os.path.join(self.op_dir, "checkpoint.json")
        start.fingerprint = share.fingerprint(fp)
        start.share, start.base_fingerprint = (share.index, share.count), fp
        self.checkpoint = start
        self.rejects = RejectLog(self.op_dir, self.fmt, self.source.header)
        self.unknown = RejectLog(self.op_dir, self.fmt, self.source.header, "unknown", "unknown.log")

    # -- the run -----------------------------------------------------------------------------------

    def run(self) -> LoadResult:
        try:
            self.events.on_start(
                self.operation_id,
                self.source.resource_count,
                {"table": f"{self.info.keyspace}.{self.info.table}", "source": self.options.source, "format": self.fmt},
            )
            self.checkpoint.start_saver(self.options.checkpoint_seconds, self.options.checkpoint_records)
            self._load_resources()
            if self.executor is not None:
                self.executor.drain()
            self.checkpoint.write(force=True)
            if self.last_resource is not None:
                self.events.on_range_finished(RangeEvent(self.operation_id, self.last_resource))
            if self._over_limit():
                raise self._aborted()
        except LoadAborted:
            self.result.aborted = True
            self._drain_and_save()  # the good records sent before the limit land
            raise self._aborted() from None
        except BulkError:
            self._drain_and_save()
            raise
        except Exception as exc:
            if self.executor is not None:
                with contextlib.suppress(Exception):
                    self.executor.drain(timeout=60)
            self.checkpoint.write(force=True)
            raise LoadFailed(
                f"load stopped: {type(exc).__name__}: {exc}; `--resume` continues from the checkpoint"
            ) from exc
        finally:
            self._close()
        self.events.on_finish(self.result.summary())
        return self.result

    def _load_resources(self) -> None:
        options, source, share = self.options, self.source, self.share
        cancel = options.cancel
        owner = None
        if share is not None:
            # Every block of every resource passes the owner, this worker's or not: positions advance
            # over the others' blocks, so each record's write time is the one a single process gives it.
            def owner(index: int) -> Any:
                return share.owner(index, self.positions.seen)

        for resource, chunks in _chunks(
            self.fmt,
            source.files,
            source.ice_table,
            options,
            self.plan,
            source.snapshot,
            self.checkpoint,
            self.result,
            owner=owner,
            count_complete=share is None or share.index == 0,
        ):
            self._start_resource(resource)
            base = self.op_timestamp + self.positions.start(resource)
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    raise LoadCancelled(f"load into {self.info.keyspace}.{self.info.table} cancelled")
                if self.stop_requested:
                    raise self._aborted()
                self.positions.seen(chunk.end)
                st = _ChunkState(with_functions(chunk, self.plan, self.function_values), base)
                if self._submit_chunk(st):
                    raise self._aborted()
                with self.lock:
                    self._finish_rows([st])  # all of the chunk's rows are submitted
                self.checkpoint.write()
            self.positions.finish()
            self._mark_complete_when_done(resource)

    def _start_resource(self, resource: str) -> None:
        if resource == self.last_resource:
            return
        if self.last_resource is not None:
            self.events.on_range_finished(RangeEvent(self.operation_id, self.last_resource))
        self.events.on_range_started(RangeEvent(self.operation_id, resource))
        self.last_resource = resource
        self.result.resources += 1

    def _mark_complete_when_done(self, resource: str) -> None:
        """A resource is complete once everything read from it is acknowledged: cheap to check at the
        end of each resource by draining, which also bounds memory to one resource's in-flight writes.
        One with failed writes is never complete: a resume reads it again for those rows."""
        if self.executor is not None:
            self.executor.drain()
        if resource in self.failed_resources:
            return
        _mark_complete_when_done(self.checkpoint, resource, self.executor, self.options.cancel)

    def _drain_and_save(self) -> None:
        if self.executor is not None:
            self.executor.drain()
        self.checkpoint.write(force=True)

    def _close(self) -> None:
        result = self.result
        self.checkpoint.stop_saver()
        if self.executor is not None:
            result.retries = self.executor.retries
            self.executor.close()
        self.rejects.close()
        self.unknown.close()
        result.seconds = time.monotonic() - self.started
        with open(os.path.join(self.op_dir, "summary.json"), "w", encoding="utf-8") as f:
            json.dump({**result.summary(), "resumed_from": self.resumed_from}, f, indent=2)

    # -- one chunk ---------------------------------------------------------------------------------

    def _submit_chunk(self, st: _ChunkState) -> bool:
        """Bind and send the chunk's rows; True if ``max_errors`` was passed in it. Then only the
        good records read before the one that passed it are sent (as DSBulk does), and the chunk
        is left out of the checkpoint so a resume reads it again."""
        chunk = st.chunk
        bound = self._bind(st)
        cutoff = self._cutoff(chunk, bound)
        with self.lock:
            end = cutoff + 1 if cutoff is not None else chunk.end
            # A record the resumed run wrote is counted once, as skipped_resumed, not also as read.
            self.result.records += end - chunk.first - sum(1 for o in bound.resumed if o < end)
            self.result.bytes_read += chunk.nbytes
            self.result.rejected += len(bound.problems)
            self.result.rows_written += len(bound.empty)  # written as it is: its null counters stay null
        for _, rej in bound.problems:
            self.rejects.add(rej, "read")
        order = self._in_window(bound)
        if self.executor is None and order:
            self.executor = self._make_executor(chunk)
        with self.lock:
            st.pending += len(order)
        if self.options.dry_run or not order:
            with self.lock:
                st.pending -= len(order)
            return cutoff is not None
        for work in self._works(st, order, bound):
            if cutoff is None and self._over_limit():  # writes failing as we go: stop sending
                return True
            assert self.executor is not None
            self.executor.submit(work)
        return cutoff is not None

    def _bind(self, st: _ChunkState) -> _Bound:
        """The chunk's writes grouped by row (one row may have several), and its problems sorted."""
        chunk = st.chunk
        out = _Bound()
        done = self.checkpoint.done.get(chunk.resource)
        resumed = done is not None and bool(done.spans) and not done.covers(chunk.first, chunk.end)
        skipped: set[int] = set()
        out.problems = [(rej.ordinal, rej) for rej in chunk.rejects]
        # Rows written before (a resumed load, or acknowledged earlier in this one) are skipped
        # row by row below; a chunk none of whose records is among them takes the bulk path.
        spans = done.spans if done is not None else []
        if not resumed or not any(a < chunk.end and b > chunk.first for a, b in spans):
            singles = self.binder.bind_all(st)
            if singles is not None:  # one write a row, none refused: no per-row bookkeeping
                out.singles = singles
                out.order = list(range(len(singles)))
                out.problems.sort(key=lambda p: p[0])
                return out
        for write, ref, _tok, problem in self.binder.bind(st):
            r = ref[1]
            if resumed and done is not None and done.covers(chunk.ordinals[r], chunk.ordinals[r] + 1):
                if r not in skipped:  # written by the run this one resumes: never sent twice
                    skipped.add(r)
                    out.resumed.append(chunk.ordinals[r])
                    with self.lock:
                        self.result.skipped_resumed += 1
                continue
            if problem is not None:
                reject = Reject(chunk.resource, chunk.ordinals[r], _raw(chunk, r), problem)
                out.problems.append((chunk.ordinals[r], reject))
            elif write is None:
                out.empty.append(r)
            else:
                if r not in out.per_row:
                    out.order.append(r)
                out.per_row[r].append(write)
        out.problems.sort(key=lambda p: p[0])
        return out

    def _cutoff(self, chunk: Chunk, bound: _Bound) -> int | None:
        """The ordinal of the record that passes ``max_errors`` (None: within it); the records after
        it are dropped from ``bound``."""
        with self.lock:
            errors_before, records_before = self._errors_now(), self.result.records
        ordinals = [o for o, _ in bound.problems]
        cutoff = _limit_crossing(ordinals, errors_before, records_before, chunk.first, self.max_count, self.max_ratio)
        if cutoff is not None:
            bound.problems = [p for p in bound.problems if p[0] <= cutoff]
            bound.order = [r for r in bound.order if chunk.ordinals[r] < cutoff]
            bound.empty = [r for r in bound.empty if chunk.ordinals[r] < cutoff]
        return cutoff

    def _in_window(self, bound: _Bound) -> list[int]:
        """The rows whose partition-key token is in the load's token window (all without one)."""
        if self.window is None:
            return bound.order
        kept = []
        for r in bound.order:
            if self.token_of(bound.first_write(r).routing_key) in self.window:
                kept.append(r)
            else:
                with self.lock:
                    self.result.skipped_other_range += 1
        return kept

    def _works(self, st: _ChunkState, order: list[int], bound: _Bound) -> Any:
        from cassandra.query import BatchStatement, BatchType

        chunk = st.chunk
        row_bytes = max(1, chunk.nbytes // max(1, chunk.batch.num_rows))
        options, replicas_of, consistency = self.group_options, self.replicas_of, self.consistency
        per_row = bound.per_row
        if bound.singles is not None:
            singles = bound.singles
            if len(order) != len(singles):  # rows left out (past max_errors, out of the token window)
                blobs, keys = [singles.blobs[r] for r in order], [singles.keys[r] for r in order]
                singles = _Rows(singles.prepared, blobs, keys, singles.make)
            return _group_singles(order, singles, st, options, replicas_of, consistency, row_bytes)
        if all(len(per_row[r]) == 1 for r in order):
            writes = [per_row[r][0] for r in order]
            return _group_singles(order, writes, st, options, replicas_of, consistency, row_bytes)
        return _group(order, per_row, st, options, replicas_of, consistency, BatchStatement, BatchType, row_bytes)

    # -- acknowledgements, failures and the error limit ---------------------------------------------

    def _make_executor(self, first: Chunk) -> Executor:
        options = self.options
        n = max(1, first.batch.num_rows)
        avg = (first.nbytes or first.batch.nbytes) / n
        conc = options.concurrency or auto_concurrency(avg, options.batch_mode != "disabled")
        return Executor(
            self.session,
            conc,
            self._on_done,
            self._on_failed,
            max_attempts=options.max_attempts,  # counters: retried only when provably not applied
            rows_per_second=options.max_rows_per_second,
            timeout=options.request_timeout,
            cancel=options.cancel,
            idempotent=not self.plan.counter,
            on_unknown=self._on_unknown,
        )

    def _finish_rows(self, states: Sequence[_ChunkState]) -> None:
        """A chunk whose every write is acknowledged goes into the checkpoint. Rows whose write
        failed stay out of it (issue "Faults", item 1: a resume skipped them and reported success
        with rows missing): the chunk's other rows are marked one span at a time, so a resume sends
        exactly the failed ones again (never a counter increment twice)."""
        for st in states:
            st.pending -= 1
            if st.pending != 0:
                continue
            chunk = st.chunk
            if not st.failed:
                self.checkpoint.mark(chunk.resource, chunk.first, chunk.end)
                continue
            self.failed_resources.add(chunk.resource)
            failed = {chunk.ordinals[i] for i in st.failed}
            for a, b in _spans(o for o in range(chunk.first, chunk.end) if o not in failed):
                self.checkpoint.mark(chunk.resource, a, b)

    def _on_done(self, rows: Sequence[Any]) -> None:
        with self.lock:
            self.result.rows_written += len(rows)
            self._finish_rows([r[0] for r in rows])
        # Each acknowledged record goes into the checkpoint at its next write (item 8), not only
        # once its whole chunk is acknowledged.
        self.checkpoint.ack((st.chunk.resource, st.chunk.ordinals[i]) for st, i in rows)
        self.events.on_progress(len(rows), 0)

    def _on_failed(self, row: Any, exc: BaseException) -> None:
        st, i = row
        reason = f"write failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        self.rejects.add(Reject(st.chunk.resource, st.chunk.ordinals[i], _raw(st.chunk, i), reason), "write")
        with self.lock:
            self.result.failed_writes += 1
            st.failed.add(i)
            self._finish_rows([st])

    def _on_unknown(self, row: Any, exc: BaseException) -> None:
        """A counter write that may have been applied: kept apart, never replayed by --resume."""
        st, i = row
        reason = (
            f"outcome unknown (may have been applied; re-running it may count it twice): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        self.unknown.add(Reject(st.chunk.resource, st.chunk.ordinals[i], _raw(st.chunk, i), reason), "unknown")
        with self.lock:
            self.result.unknown_outcome += 1
            self._finish_rows([st])

    def _errors_now(self) -> int:
        return self.result.rejected + self.result.failed_writes + self.result.unknown_outcome

    def _over_limit(self) -> bool:
        if self.stop_requested:
            return True
        errors, records = self._errors_now(), self.result.records
        max_count, max_ratio = self.max_count, self.max_ratio
        return (max_count is not None and errors > max_count) or (
            max_ratio is not None and records >= 100 and errors / max(1, records) > max_ratio
        )

    def _aborted(self) -> LoadAborted:
        """The abort, its message written once what was sent before it is acknowledged."""
        result, rejects = self.result, self.rejects
        limit = f"{self.max_count}" if self.max_count is not None else f"{(self.max_ratio or 0) * 100:g}%"
        exc = LoadAborted(
            f"aborted: {self._errors_now()} rejected record(s) after {result.records} read exceeds "
            f"max_errors={limit}; {result.rows_written} rows written. Records and reasons: {rejects.records_path}, "
            f"{rejects.errors_path}. Fix them and rerun with resume (--resume) to continue."
        )
        exc.result = result
        return exc
