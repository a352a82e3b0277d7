"""The write executor with a stub session: retries of transient errors, a refused batch replayed row
by row, the rate limiter, and drain() waiting for every callback."""

from __future__ import annotations

import threading
import time
from typing import Any

from cassandra import InvalidRequest, WriteTimeout

from cassandra_bulk_core.load.executor import Executor, RateLimiter, Work, auto_concurrency


class _Future:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    def add_callbacks(self, ok: Any, err: Any, callback_args: Any = (), errback_args: Any = ()) -> None:
        # Like the driver: the callback runs on another thread (its event loop).
        def fire() -> None:
            if isinstance(self.outcome, BaseException):
                err(self.outcome, *errback_args)
            else:
                ok(self.outcome, *callback_args)

        threading.Thread(target=fire).start()


class _Session:
    """``execute_async`` fails each statement's first ``fail_first`` tries; ``bad`` always fails."""

    def __init__(self, fail_first: int = 0, bad: frozenset[str] = frozenset()) -> None:
        self.fail_first, self.bad = fail_first, bad
        self.tries: dict[str, int] = {}
        self.applied: list[str] = []
        self.lock = threading.Lock()

    def _run(self, statement: Any) -> Any:
        names = statement if isinstance(statement, list) else [statement]
        with self.lock:
            key = ",".join(names)
            self.tries[key] = self.tries.get(key, 0) + 1
            if self.tries[key] <= self.fail_first:
                return WriteTimeout(
                    "timed out", write_type=0, consistency=1, required_responses=1, received_responses=0
                )
            if any(n in self.bad for n in names):
                return InvalidRequest(f"bad value in {key}")
            self.applied.extend(names)
            return "ok"

    def execute_async(self, statement: Any, timeout: float | None = None) -> _Future:
        return _Future(self._run(statement))

    def execute(self, statement: Any, timeout: float | None = None) -> Any:
        outcome = self._run(statement)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _executor(session: _Session, done: list[Any], failed: list[Any], attempts: int = 5) -> Executor:
    lock = threading.Lock()

    def on_done(rows: Any) -> None:
        with lock:
            done.extend(rows)

    def on_failed(row: Any, exc: BaseException) -> None:
        with lock:
            failed.append((row, type(exc).__name__))

    return Executor(session, 4, on_done, on_failed, max_attempts=attempts)


def test_transient_errors_are_retried_until_they_pass() -> None:
    session, done, failed = _Session(fail_first=2), [], []
    ex = _executor(session, done, failed)
    for i in range(20):
        ex.submit(Work(f"s{i}", [i]))
    ex.drain(timeout=30)
    ex.close()
    assert sorted(done) == list(range(20)) and not failed
    assert ex.retries >= 20 and sorted(session.applied) == sorted(f"s{i}" for i in range(20))


def test_retries_end_and_the_rows_fail_with_the_error() -> None:
    session, done, failed = _Session(fail_first=99), [], []
    ex = _executor(session, done, failed, attempts=3)
    ex.submit(Work("s", ["row"]))
    ex.drain(timeout=60)
    ex.close()
    assert done == [] and failed == [("row", "WriteTimeout")]


def test_a_refused_batch_is_replayed_row_by_row() -> None:
    session, done, failed = _Session(bad=frozenset({"b"})), [], []
    ex = _executor(session, done, failed)
    batch = ["a", "b", "c"]
    ex.submit(Work(batch, [1, 2, 3], parts=[(1, ["a"]), (2, ["b"]), (3, ["c"])]))
    ex.drain(timeout=30)
    ex.close()
    assert sorted(done) == [1, 3] and failed == [(2, "InvalidRequest")]
    assert sorted(session.applied) == ["a", "c"]


def test_rate_limiter_holds_the_rate() -> None:
    limiter = RateLimiter(2000)
    started = time.monotonic()
    for _ in range(30):
        limiter.take(100)  # 3,000 rows at 2,000/s: the first 2,000 are the burst, then ~0.5 s
    assert 0.3 < time.monotonic() - started < 3


def test_auto_concurrency_shrinks_with_row_size() -> None:
    assert auto_concurrency(100, True) > auto_concurrency(5000, True) > auto_concurrency(50_000, True)
    assert auto_concurrency(100, False) == 2 * auto_concurrency(100, True)


class _Refusing(_Session):
    """Every statement or batch holding a ``bad`` name fails with ``error`` (a server refusal)."""

    def __init__(self, error: BaseException, bad: frozenset[str]) -> None:
        super().__init__(bad=bad)
        self.error = error

    def _run(self, statement: Any) -> Any:
        outcome = super()._run(statement)
        return self.error if isinstance(outcome, InvalidRequest) else outcome


def test_a_batch_failing_with_a_server_error_is_split_at_once_without_retries() -> None:
    from cassandra.protocol import ServerError

    session = _Refusing(ServerError(0, "java.lang.NullPointerException", None), frozenset({"b"}))
    done: list[Any] = []
    failed: list[Any] = []
    ex = _executor(session, done, failed, attempts=10)
    started = time.monotonic()
    ex.submit(Work(["a", "b", "c"], [1, 2, 3], parts=[(1, ["a"]), (2, ["b"]), (3, ["c"])]))
    ex.drain(timeout=30)
    ex.close()
    assert time.monotonic() - started < 2  # no backoff: a refusal is not transient
    assert sorted(done) == [1, 3] and failed == [(2, "ServerError")]
    assert session.tries["a,b,c"] == 1 and session.tries["b"] == 1 and ex.retries == 0


def _counter_executor(session: Any, done: list[Any], failed: list[Any], unknown: list[Any]) -> Executor:
    lock = threading.Lock()

    def on_done(rows: Any) -> None:
        with lock:
            done.extend(rows)

    def on_failed(row: Any, exc: BaseException) -> None:
        with lock:
            failed.append(row)

    def on_unknown(row: Any, exc: BaseException) -> None:
        with lock:
            unknown.append((row, type(exc).__name__))

    return Executor(session, 4, on_done, on_failed, max_attempts=5, idempotent=False, on_unknown=on_unknown)


def test_a_counter_write_that_times_out_is_unknown_never_retried_nor_rejected() -> None:
    session = _Session(fail_first=1)  # the first try of each statement: a WriteTimeout
    done: list[Any] = []
    failed: list[Any] = []
    unknown: list[Any] = []
    ex = _counter_executor(session, done, failed, unknown)
    ex.submit(Work("c1", ["r1"]))
    ex.drain(timeout=30)
    ex.close()
    assert unknown == [("r1", "WriteTimeout")] and not done and not failed
    assert session.tries == {"c1": 1}  # sent once: a second send may count it twice


def test_a_counter_write_refused_before_applying_is_retried() -> None:
    from cassandra import Unavailable

    class _Unavailable(_Session):
        def _run(self, statement: Any) -> Any:
            with self.lock:
                self.tries[statement] = self.tries.get(statement, 0) + 1
                if self.tries[statement] == 1:
                    return Unavailable("not enough replicas", consistency=1, required_replicas=1, alive_replicas=0)
                self.applied.append(statement)
                return "ok"

    session = _Unavailable()
    done: list[Any] = []
    failed: list[Any] = []
    unknown: list[Any] = []
    ex = _counter_executor(session, done, failed, unknown)
    ex.submit(Work("c1", ["r1"]))
    ex.drain(timeout=30)
    ex.close()
    assert done == ["r1"] and not failed and not unknown and session.applied == ["c1"]
