"""The asyncio API (issue #15 item 13) on the real node: the loop keeps ticking while an export runs,
progress events arrive in order, cancelling the awaiting task stops the scan promptly, and export,
load and count give what the sync calls give."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from cassandra_bulk_core import aio, count_table, export_table, plan_ranges, resolve_table
from cassandra_bulk_core.events import Listener
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.load import LoadOptions
from cassandra_bulk_core.scan import ScanOptions
from tests.conftest import connection_config

ROWS = 6000
SPLITS = 8


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


@pytest.fixture
def kv(session: Any, keyspace: str) -> str:
    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text, n bigint)")
    session.execute(f"CREATE TABLE {keyspace}.copy (k int PRIMARY KEY, v text, n bigint)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v, n) VALUES (?, ?, ?)")
    execute_concurrent_with_args(session, insert, [(k, f"v{k}" * 8, k * 7) for k in range(ROWS)], concurrency=64)
    return keyspace


def _rows(path: Path) -> list[dict[str, Any]]:
    table = ds.dataset(str(path), format="parquet").to_table(columns=["k", "v", "n"])
    return sorted(table.to_pylist(), key=lambda r: r["k"])


def test_export_streams_events_while_the_loop_ticks_and_equals_the_sync_export(
    conn: Any, kv: str, tmp_path: Path
) -> None:
    cluster, sess = conn
    info = resolve_table(cluster, kv, "kv")
    slow = ScanOptions(page_size=100, streams=1)  # many pages: the export takes a while

    class Busy(Listener):  # a caller's own listener, called in the worker thread: 5 ms per batch
        def on_progress(self, rows: int, bytes_: int) -> None:
            time.sleep(0.005)

    async def main() -> tuple[Any, list[aio.ProgressEvent], list[float]]:
        ticks: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        options = ExportOptions(destination=str(tmp_path / "a"), splits=SPLITS, scan=slow)
        op = aio.export(cluster, sess, info, options, Busy())
        events = [event async for event in op.events()]
        result = await op
        stop.set()
        await tick_task
        return result, events, ticks

    result, events, ticks = asyncio.run(main())
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["finish", "done"] and events[-1].error is None
    assert kinds.count("range_finished") == SPLITS and kinds.count("range_started") == SPLITS
    assert "progress" in kinds and events[-1].rows_total == result.rows == ROWS
    assert events[-1].ranges_done == events[-1].ranges_total == SPLITS
    started, ended = events[0].at, events[-1].at
    assert ended - started > 0.2  # long enough for the ticks to mean something
    # the loop kept running all along: no gap between ticks near the export's length
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) >= 10 and max(gaps) < max(0.5, (ended - started) / 3), (max(gaps), ended - started)

    sync = export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path / "b"), splits=SPLITS))
    assert sync.rows == result.rows
    assert {r.range.id: r.rows for r in sync.ranges} == {r.range.id: r.rows for r in result.ranges}
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")


def test_cancelling_the_awaiting_task_stops_the_export_promptly(conn: Any, kv: str, tmp_path: Path) -> None:
    cluster, sess = conn
    info = resolve_table(cluster, kv, "kv")
    crawl = ScanOptions(page_size=20, streams=1)
    options = ExportOptions(destination=str(tmp_path / "out"), splits=64, range_workers=1, scan=crawl)

    async def main() -> tuple[list[aio.ProgressEvent], float, Any]:
        op = aio.export(cluster, sess, info, options)
        task = asyncio.ensure_future(op.result())
        events: list[aio.ProgressEvent] = []
        async for event in op.events():
            events.append(event)
            if event.kind == "range_finished":
                break  # the export is under way
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stopped = time.monotonic() - t0
        events += [event async for event in op.events()]
        return events, stopped, op

    events, stopped, op = asyncio.run(main())
    assert op.done() and op.cancelled  # the worker thread ended before the task did
    assert stopped < 10, stopped
    finished = [e for e in events if e.kind == "range_finished"]
    assert 1 <= len(finished) < 64  # stopped part way
    assert events[-1].kind == "done" and "cancelled" in (events[-1].error or "")

    async def cancel_by_handle() -> None:  # Operation.cancel(): the await raises CancelledError
        handle_options = ExportOptions(destination=str(tmp_path / "h"), splits=64, range_workers=1, scan=crawl)
        op = aio.export(cluster, sess, info, handle_options)
        async for event in op.events():
            if event.kind == "range_finished":
                break
        op.cancel()
        with pytest.raises(asyncio.CancelledError, match="cancelled"):
            await op
        assert op.done()

    asyncio.run(cancel_by_handle())


def test_load_and_count_equal_the_sync_calls(conn: Any, kv: str, tmp_path: Path) -> None:
    cluster, sess = conn
    info = resolve_table(cluster, kv, "kv")
    export_table(cluster, sess, info, ExportOptions(destination=str(tmp_path / "out"), splits=SPLITS))
    plan = plan_ranges(SPLITS)

    async def main() -> tuple[Any, Any, list[str]]:
        counted = aio.count(cluster, sess, info, plan, concurrency=2)
        kinds = [e.kind async for e in counted.events()]
        total = await counted
        load_options = LoadOptions(source=str(tmp_path / "out"), format="parquet", log_dir=str(tmp_path / "logs"))
        loaded = await aio.load(cluster, sess, resolve_table(cluster, kv, "copy"), load_options)
        return total, loaded, kinds

    total, loaded, kinds = asyncio.run(main())
    sync = count_table(cluster, sess, info, plan)
    assert total.total == sync.total == ROWS and total.per_range == sync.per_range
    assert kinds.count("range_finished") == SPLITS and kinds[-1] == "done"
    assert loaded.rows_written == ROWS and loaded.rejected == 0
    got = sorted((r.k, r.v, r.n) for r in sess.execute(f"SELECT k, v, n FROM {kv}.copy"))
    assert got == [(k, f"v{k}" * 8, k * 7) for k in range(ROWS)]
