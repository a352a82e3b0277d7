"""The write side of a load: statements in flight, batching, rate limit and retries.

Requests go out with ``execute_async`` (the driver routes each bound statement to a replica of its
partition, token-aware) with at most ``concurrency`` in flight. A failed request is retried off the
event loop with tenacity (timeouts, overloaded or unavailable coordinators, lost connections: the
writes carry an explicit timestamp, so a retry writes the same cells). A batch the server refuses
outright (a value it rejects, an internal error) is split at once, without retries, into its rows so
only the bad record fails.

Non-idempotent writes (counter increments) are retried only when the error proves the write was not
applied (unavailable, overloaded, no host reached). A write whose outcome is unknown (a write
timeout, a client timeout, a connection lost after sending, a partial write failure) is neither
retried nor reported as failed: it goes to ``on_unknown``, since re-sending it may count it twice.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_when_event_set, wait_exponential_jitter

from ..errors import LoadCancelled, is_transient, not_applied, unknown_outcome
from ..futures import release_timer

log = logging.getLogger("cassandra_bulk.load")


@dataclass
class Work:
    """One request: a bound statement or a batch, and the rows it carries.

    ``rows`` are opaque tokens handed back to ``on_done``/``on_failed`` (the loader's record refs);
    ``parts`` pair each row of a batch with its statements, so a batch the server refuses can be
    replayed row by row and only the bad record fails."""

    statement: Any
    rows: Sequence[Any]
    parts: Sequence[tuple[Any, Sequence[Any]]] | None = None
    singles: Sequence[Any] | None = None
    """One write per row, aligned with ``rows``: ``parts`` made only if the batch is refused."""


class CountingRetryPolicy:
    """The session's retry policy, counting every retry it decides (issue "Faults", item 14: the
    summary said ``"retries": 0`` while the driver retried). Set on each request the executor
    sends, so the session's own profile is left as it is."""

    def __init__(self, base: Any, note: Callable[[], None]):
        self.base, self.note = base, note

    def _counted(self, decision: tuple[Any, Any]) -> tuple[Any, Any]:
        from cassandra.policies import RetryPolicy

        if decision and decision[0] in (RetryPolicy.RETRY, RetryPolicy.RETRY_NEXT_HOST):
            self.note()
        return decision

    def on_read_timeout(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return self._counted(self.base.on_read_timeout(*args, **kwargs))

    def on_write_timeout(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return self._counted(self.base.on_write_timeout(*args, **kwargs))

    def on_unavailable(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return self._counted(self.base.on_unavailable(*args, **kwargs))

    def on_request_error(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return self._counted(self.base.on_request_error(*args, **kwargs))


def _session_retry_policy(session: Any) -> Any:
    """The retry policy of the session's default execution profile (the driver's default if none)."""
    from cassandra.policies import RetryPolicy

    try:
        from cassandra.cluster import EXEC_PROFILE_DEFAULT

        policy = session.cluster.profile_manager.profiles[EXEC_PROFILE_DEFAULT].retry_policy
    except (AttributeError, KeyError, TypeError):
        policy = None
    return policy if policy is not None and hasattr(policy, "on_write_timeout") else RetryPolicy()


retryable = is_transient
"""A transient failure: the same request may pass if sent again (idempotent writes only); server
errors are not transient (a server that fails a request fails it again: its batch is split)."""


class RateLimiter:
    """At most ``per_second`` rows per second, smoothed over short bursts (a token bucket)."""

    def __init__(self, per_second: float | None):
        self.rate = per_second
        self.allowance = float(per_second or 0)
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        if not self.rate:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
                self.last = now
                if self.allowance >= n or self.allowance >= self.rate:
                    self.allowance -= n
                    return
                wait = (n - self.allowance) / self.rate
            time.sleep(min(wait, 0.5))


class _Later:
    """Calls due after a delay, on one thread of their own: a request's retry waits here without
    holding a worker (issue "Faults", item 2: with retries sleeping on 4 worker threads, writes
    to a dead node failed at ~4 per half minute, so ``--max-errors`` took 20+ minutes to stop)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="load-retry-timer", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        with self._cv:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, fn))
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._closed:
                    return
                _, _, fn = heapq.heappop(self._heap)
            fn()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=10)


def _backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: exponential from 0.1 s, capped at 10 s, jittered."""
    return min(10.0, 0.1 * 2 ** (attempt - 1)) + random.uniform(0, 0.1)


class Executor:
    """Bounded in-flight writes with callbacks; :meth:`drain` waits for all of them.

    A request failing with a transient error is sent again after a backoff, asynchronously (its
    slot stays taken, no thread waits for it), up to ``max_attempts`` in all; then, or at once for
    a refusal, it is handled on a worker thread: a refused batch is split into its rows, a row that
    still fails is reported."""

    def __init__(
        self,
        session: Any,
        concurrency: int,
        on_done: Callable[[Sequence[Any]], None],
        on_failed: Callable[[Any, BaseException], None],
        max_attempts: int = 10,
        rows_per_second: float | None = None,
        timeout: float = 60.0,
        cancel: threading.Event | None = None,
        idempotent: bool = True,
        on_unknown: Callable[[Any, BaseException], None] | None = None,
    ):
        """``idempotent=False`` (counter increments): retry only errors proving the write was not
        applied; hand writes of unknown outcome to ``on_unknown`` (default: ``on_failed``)."""
        self.session = session
        self.idempotent = idempotent
        self.on_unknown = on_unknown or on_failed
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self.concurrency = max(1, concurrency)
        self.on_done = on_done
        self.on_failed = on_failed
        self.max_attempts = max_attempts
        self.limiter = RateLimiter(rows_per_second)
        self.timeout = timeout
        self.retries = 0
        """Every retry: the driver's (its retry policy's decisions) and ours (re-sends after an error)."""
        self._retries_lock = threading.Lock()
        self.retry_policy = CountingRetryPolicy(_session_retry_policy(session), self._count_retry)
        self._retry_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="load-retry")
        self._later = _Later()
        self._pending = 0
        self._idle = threading.Condition()
        self._stopped = False
        self.fatal: BaseException | None = None
        self.cancel = cancel or threading.Event()

    def submit(self, work: Work) -> None:
        if self.fatal is not None:
            raise self.fatal
        if self.cancel.is_set():
            raise LoadCancelled("load cancelled")
        self.limiter.take(len(work.rows))
        while not self.slots.acquire(timeout=0.5):
            if self.cancel.is_set():
                raise LoadCancelled("load cancelled")
        with self._idle:
            self._pending += 1
        try:
            future = self.session.execute_async(self._counted(work.statement), timeout=self.timeout)
        except BaseException as exc:
            self._error(exc, work)
            return
        # A weak reference: the future handed to its own callback would be one more cycle.
        future.add_callbacks(self._ok, self._error, callback_args=(work, weakref.ref(future)), errback_args=(work,))

    def _count_retry(self) -> None:
        with self._retries_lock:
            self.retries += 1

    def _counted(self, statement: Any) -> Any:
        """The statement with the counting retry policy (unless it carries its own)."""
        if getattr(statement, "retry_policy", None) is None:
            with contextlib.suppress(AttributeError):
                statement.retry_policy = self.retry_policy
        return statement

    def _ok(self, _result: Any, work: Work, future: Callable[[], Any] | None = None) -> None:
        if future is not None:
            release_timer(future())  # freed by reference counting, not left to the cyclic collector
        try:
            self.on_done(work.rows)
        finally:
            self._release()

    def _error(self, exc: BaseException, work: Work, attempt: int = 1) -> None:
        # Never block the driver's event loop: a retry is scheduled, a split runs on a worker.
        transient = retryable if self.idempotent else not_applied
        if transient(exc) and attempt < self.max_attempts and not self.cancel.is_set():
            self._count_retry()
            self._later.call_later(_backoff(attempt), lambda: self._resend(work, attempt + 1, exc))
            return
        self._retry_pool.submit(self._recover, work, exc, attempt > 1 or self.max_attempts <= 1)

    def _resend(self, work: Work, attempt: int, last: BaseException) -> None:
        """Attempt ``attempt`` of a request (the same statement: same timestamp, same cells)."""
        if self.cancel.is_set():
            self._retry_pool.submit(self._recover, work, last, True)
            return
        try:
            future = self.session.execute_async(self._counted(work.statement), timeout=self.timeout)
        except BaseException as exc:
            self._error(exc, work, attempt)
            return
        future.add_callbacks(
            self._ok, self._error, callback_args=(work, weakref.ref(future)), errback_args=(work, attempt)
        )

    def _recover(self, work: Work, exc: BaseException, retried: bool = False) -> None:
        """``retried``: the request already had its attempts (a transient error is final now)."""
        try:
            if self.idempotent:
                self._recover_idempotent(work, exc, retried)
            else:
                self._recover_once_only(work, exc, retried)
        except BaseException as bug:  # a failing callback must not hang drain()
            self.fatal = bug
        finally:
            self._release()

    def _recover_idempotent(self, work: Work, exc: BaseException, retried: bool = False) -> None:
        """Transient errors: retried (same timestamp, same cells). Anything else is a refusal of
        something in the request: a batch is replayed row by row at once, so only the bad row fails."""
        if retryable(exc):
            if self.max_attempts > 1 and not retried:
                try:
                    self._retry(work.statement, retryable)
                    self.on_done(work.rows)
                    return
                except BaseException as final:
                    exc = final
            if retryable(exc):
                for row in work.rows:
                    self.on_failed(row, exc)
                return
        parts = work.parts
        if parts is None and work.singles is not None:
            parts = [(row, [w]) for row, w in zip(work.rows, work.singles, strict=True)]
        if not parts or len(parts) <= 1:
            for row in work.rows:
                self.on_failed(row, exc)
            return
        for row, statements in parts:
            try:
                for statement in statements:
                    self._retry(statement.statement() if hasattr(statement, "statement") else statement, retryable)
                self.on_done([row])
            except BaseException as one:
                self.on_failed(row, one)

    def _recover_once_only(self, work: Work, exc: BaseException, retried: bool = False) -> None:
        """A non-idempotent write: sent again only while the error proves it was not applied."""
        if not_applied(exc) and self.max_attempts > 1 and not retried:
            try:
                self._retry(work.statement, not_applied)
                self.on_done(work.rows)
                return
            except BaseException as final:
                exc = final
        report = self.on_unknown if unknown_outcome(exc) else self.on_failed
        for row in work.rows:
            report(row, exc)

    def _retry(self, statement: Any, transient: Callable[[BaseException], bool] = retryable) -> None:
        def note(_state: Any) -> None:
            self._count_retry()

        for attempt in Retrying(
            stop=stop_after_attempt(max(1, self.max_attempts - 1)) | stop_when_event_set(self.cancel),
            wait=wait_exponential_jitter(multiplier=0.1, max=10),
            retry=retry_if_exception(transient),
            before_sleep=note,
            reraise=True,
        ):
            with attempt:
                self.session.execute(self._counted(statement), timeout=self.timeout)

    def _release(self) -> None:
        self.slots.release()
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def drain(self, timeout: float | None = None) -> None:
        """Wait for every request; once cancelled, wait at most a few seconds more."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                if self.cancel.is_set():
                    self._idle.wait_for(lambda: self._pending == 0, timeout=5)
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._idle.wait_for(lambda: self._pending == 0, timeout=0.5 if left is None else min(0.5, left))
        if self.fatal is not None:
            raise self.fatal

    def close(self) -> None:
        self._later.close()
        self._retry_pool.shutdown(wait=True)


def auto_concurrency(avg_row_bytes: float, batching: bool) -> int:
    """Requests in flight, from the average row size (DSBulk's rule, scaled to one client process):
    small rows need many requests in flight to keep the server busy, big ones few to bound memory."""
    if avg_row_bytes <= 512:
        n = 64
    elif avg_row_bytes <= 1024:
        n = 32
    elif avg_row_bytes <= 10 * 1024:
        n = 16
    else:
        n = 4
    return n if batching else n * 2
