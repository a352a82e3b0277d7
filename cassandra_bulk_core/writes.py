"""The write side of a load: statements in flight, batching, rate limit and retries.

Requests go out with ``execute_async`` (the driver routes each bound statement to a replica of its
partition, token-aware) with at most ``concurrency`` in flight. A failed request is retried off the
event loop with tenacity (timeouts, overloaded or unavailable coordinators, lost connections: the
writes carry an explicit timestamp, so a retry writes the same cells). A batch the server refuses
outright (a value it rejects) is split into its statements so only the bad record fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_when_event_set, wait_exponential_jitter

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


def retryable(exc: BaseException) -> bool:
    from cassandra import OperationTimedOut, Unavailable, WriteFailure, WriteTimeout
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionException
    from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage, ServerError

    return isinstance(
        exc,
        (
            WriteTimeout,
            Unavailable,
            OperationTimedOut,
            NoHostAvailable,
            ConnectionException,
            OverloadedErrorMessage,
            IsBootstrappingErrorMessage,
            ServerError,
            WriteFailure,
        ),
    )


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


class Executor:
    """Bounded in-flight writes with callbacks; :meth:`drain` waits for all of them."""

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
    ):
        self.session = session
        self.slots = threading.BoundedSemaphore(max(1, concurrency))
        self.concurrency = max(1, concurrency)
        self.on_done = on_done
        self.on_failed = on_failed
        self.max_attempts = max_attempts
        self.limiter = RateLimiter(rows_per_second)
        self.timeout = timeout
        self.retries = 0
        self._retry_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="load-retry")
        self._pending = 0
        self._idle = threading.Condition()
        self._stopped = False
        self.fatal: BaseException | None = None
        self.cancel = cancel or threading.Event()

    def submit(self, work: Work) -> None:
        if self.fatal is not None:
            raise self.fatal
        if self.cancel.is_set():
            from .load import LoadCancelled

            raise LoadCancelled("load cancelled")
        self.limiter.take(len(work.rows))
        while not self.slots.acquire(timeout=0.5):
            if self.cancel.is_set():
                from .load import LoadCancelled

                raise LoadCancelled("load cancelled")
        with self._idle:
            self._pending += 1
        try:
            future = self.session.execute_async(work.statement, timeout=self.timeout)
        except BaseException as exc:
            self._error(exc, work)
            return
        future.add_callbacks(self._ok, self._error, callback_args=(work,), errback_args=(work,))

    def _ok(self, _result: Any, work: Work) -> None:
        try:
            self.on_done(work.rows)
        finally:
            self._release()

    def _error(self, exc: BaseException, work: Work) -> None:
        # Never block the driver's event loop: retries and splits run on their own threads.
        self._retry_pool.submit(self._recover, work, exc)

    def _recover(self, work: Work, exc: BaseException) -> None:
        try:
            if retryable(exc) and self.max_attempts > 1:
                try:
                    self._retry(work.statement)
                    self.on_done(work.rows)
                    return
                except BaseException as final:
                    exc = final
            parts = work.parts
            if parts is None and work.singles is not None:
                parts = [(row, [w]) for row, w in zip(work.rows, work.singles, strict=True)]
            if parts and len(parts) > 1 and not retryable(exc):
                for row, statements in parts:
                    try:
                        for statement in statements:
                            self._retry(statement.statement() if hasattr(statement, "statement") else statement)
                        self.on_done([row])
                    except BaseException as one:
                        self.on_failed(row, one)
                return
            for row in work.rows:
                self.on_failed(row, exc)
        except BaseException as bug:  # a failing callback must not hang drain()
            self.fatal = bug
        finally:
            self._release()

    def _retry(self, statement: Any) -> None:
        def note(_state: Any) -> None:
            self.retries += 1

        for attempt in Retrying(
            stop=stop_after_attempt(max(1, self.max_attempts - 1)) | stop_when_event_set(self.cancel),
            wait=wait_exponential_jitter(multiplier=0.1, max=10),
            retry=retry_if_exception(retryable),
            before_sleep=note,
            reraise=True,
        ):
            with attempt:
                self.session.execute(statement, timeout=self.timeout)

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
