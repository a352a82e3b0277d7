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
    def __init__(self, address: str) -> None:
        self.address = address


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
        return self.script.pop(0)


class _Stmt:
    def bind(self, values: Any) -> Any:
        return type("B", (), {"fetch_size": 0})()


def _scan(session: _Session, attempts: int = 3) -> TableScan:
    scan = TableScan.__new__(TableScan)
    scan.session, scan._open, scan._closed = session, _Stmt(), _Stmt()
    scan.options = type("O", (), {"page_size": 10, "max_attempts": attempts, "request_timeout": 1})()
    scan.table = type("T", (), {"keyspace": "ks", "table": "t"})()
    scan._cancelled = threading.Event()
    scan.to_batch = lambda rows: type("Batch", (), {"num_rows": len(rows), "rows": rows})()  # type: ignore[method-assign]
    return scan


def _piece() -> SubRange:
    return SubRange(TokenRange(0, 100), (_Host("10.0.0.1"), _Host("10.0.0.2")))


def test_a_failed_first_page_moves_to_the_next_replica() -> None:
    session = _Session([_Future(ReadTimeout("t"), False), _Future([(1,), (2,)], True)])
    stats = ScanStats()
    import threading

    batches = list(_scan(session)._stream(_piece(), stats, threading.Lock(), threading.Event()))
    assert [b.rows for b in batches] == [[(1,), (2,)], [(3,)]]
    assert session.calls == [("10.0.0.1", None), ("10.0.0.2", None)]
    assert stats.retries == 1 and stats.rows == 3


def test_the_retry_budget_ends_in_a_clear_error() -> None:
    import threading

    session = _Session([_Future(ReadTimeout("t"), False) for _ in range(3)])
    with pytest.raises(ScanFailed, match=r"ks\.t tokens \(0, 100\] failed after 3 attempt\(s\): ReadTimeout"):
        list(_scan(session)._stream(_piece(), ScanStats(), threading.Lock(), threading.Event()))
