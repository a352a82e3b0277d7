"""The scan's page retry, with a stub session (the real paging is covered by the integration tests)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cassandra import ReadTimeout

from cassandra_bulk_core.ring import TokenRange
from cassandra_bulk_core.routing import SubRange
from cassandra_bulk_core.scan import ScanFailed, ScanStats, TableScan


class _Host:
    def __init__(self, address: str, is_up: bool | None = True) -> None:
        self.address, self.is_up = address, is_up


class _Future:
    def __init__(self, rows: list[tuple[Any, ...]] | Exception, more: bool) -> None:
        self.rows, self.has_more_pages, self._paging_state = rows, more, b"state" if more else None

    def result(self) -> Any:
        if isinstance(self.rows, Exception):
            raise self.rows
        return type("RS", (), {"current_rows": self.rows})()

    def start_fetching_next_page(self) -> None:
        self.rows, self.has_more_pages = [(3,)], False


class _Session:
    def __init__(self, script: list[Any]) -> None:
        self.script, self.calls = script, []

    def execute_async(self, bound: Any, **kw: Any) -> _Future:
        self.calls.append((kw["host"].address, kw["paging_state"]))
        self.timeouts = [*getattr(self, "timeouts", []), kw["timeout"]]
        return self.script.pop(0)


class _Stmt:
    def bind(self, values: Any) -> Any:
        return type("B", (), {"fetch_size": 0})()


def _scan(session: _Session, attempts: int = 3, seconds: float = 0.0) -> TableScan:
    scan = TableScan.__new__(TableScan)
    scan.session, scan._open, scan._closed = session, _Stmt(), _Stmt()
    scan.options = type(
        "O", (), {"page_size": 10, "max_attempts": attempts, "retry_seconds": seconds, "request_timeout": 1}
    )()
    scan.table = type("T", (), {"keyspace": "ks", "table": "t"})()
    scan._cancelled = threading.Event()
    scan.to_batch = lambda rows: type("Batch", (), {"num_rows": len(rows), "rows": rows})()  # type: ignore[method-assign]
    return scan


def _piece() -> SubRange:
    return SubRange(TokenRange(0, 100), (_Host("10.0.0.1"), _Host("10.0.0.2")))


def test_a_failed_first_page_moves_to_the_next_replica() -> None:
    session = _Session([_Future(ReadTimeout("t"), False), _Future([(1,), (2,)], True), _Future([(3,)], False)])
    stats = ScanStats()
    import threading

    batches = list(_scan(session)._stream(_piece(), stats, threading.Lock(), threading.Event()))
    assert [b.rows for b in batches] == [[(1,), (2,)], [(3,)]]
    # Every page is its own request with the request timeout (issue "Faults", item 4: the driver's
    # start_fetching_next_page() left the next page without one), sent to the replica that answered.
    assert session.calls == [("10.0.0.1", None), ("10.0.0.2", None), ("10.0.0.2", b"state")]
    assert session.timeouts == [1, 1, 1]
    assert stats.retries == 1 and stats.rows == 3


def test_the_retry_budget_ends_in_a_clear_error() -> None:
    import threading

    session = _Session([_Future(ReadTimeout("t"), False) for _ in range(3)])
    with pytest.raises(ScanFailed, match=r"ks\.t tokens \(0, 100\] failed after 3 attempt\(s\) in \d+ s: ReadTimeout"):
        list(_scan(session)._stream(_piece(), ScanStats(), threading.Lock(), threading.Event()))


def test_a_page_is_retried_for_the_retry_time_not_only_max_attempts() -> None:
    """A stopped replica is still forwarded to by the other replicas' coordinators until gossip
    convicts it (~10-30 s): the page keeps being asked for, alternating replicas, until both the
    attempts and ``retry_seconds`` are used up (issue "Faults", item 4: five quick attempts failed a
    range of an RF=2 table while the node was stopped)."""
    session = _Session([*[_Future(ReadTimeout("t"), False) for _ in range(3)], _Future([(1,)], False)])
    stats = ScanStats()
    batches = list(
        _scan(session, attempts=2, seconds=3.0)._stream(_piece(), stats, threading.Lock(), threading.Event())
    )
    assert [b.rows for b in batches] == [[(1,)]]
    assert [host for host, _ in session.calls] == ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"]
    assert stats.retries == 3


def test_no_waiting_for_the_retry_time_when_the_driver_holds_every_replica_down() -> None:
    """RF=1 with its node dead: after ``max_attempts`` the range fails at once; waiting out
    ``retry_seconds`` is for a replica that may still answer."""
    session = _Session([_Future(ReadTimeout("t"), False) for _ in range(2)])
    piece = SubRange(TokenRange(0, 100), (_Host("10.0.0.1", is_up=False),))
    with pytest.raises(ScanFailed, match=r"failed after 2 attempt\(s\)"):
        list(_scan(session, attempts=2, seconds=600.0)._stream(piece, ScanStats(), threading.Lock(), threading.Event()))
