"""Progress events and the listeners that consume them (progress bar, logs, progress file, ...).

The engine reports what happens through one small interface; the CLI, the Dagster and the Airflow
adapters plug their own listeners in. A listener that raises never breaks an export: the
composite logs the failure once and carries on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("cassandra_bulk")


@dataclass(frozen=True)
class RangeEvent:
    operation_id: str
    range_id: str
    rows: int = 0
    bytes: int = 0
    files: int = 0
    seconds: float = 0.0
    skipped: bool = False
    error: str | None = None


class Listener:
    """Override what you need; every hook is optional."""

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None: ...

    def on_range_started(self, event: RangeEvent) -> None: ...

    def on_range_finished(self, event: RangeEvent) -> None: ...

    def on_range_failed(self, event: RangeEvent) -> None: ...

    def on_progress(self, rows: int, bytes_: int) -> None:
        """Called often (per batch) with increments; keep it cheap."""

    def on_finish(self, summary: dict[str, Any]) -> None: ...


class CompositeListener(Listener):
    """Fans events out; a failing listener is reported once and then ignored for that hook."""

    def __init__(self, listeners: Iterable[Listener] = ()):
        self.listeners = [x for x in listeners if x is not None]
        self._warned: set[tuple[int, str]] = set()

    def _call(self, hook: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, hook)(*args)
            except Exception as exc:  # a listener must never break the export
                key = (id(listener), hook)
                if key not in self._warned:
                    self._warned.add(key)
                    log.warning("listener %s.%s failed: %s", type(listener).__name__, hook, exc)

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self._call("on_start", operation_id, total_ranges, info)

    def on_range_started(self, event: RangeEvent) -> None:
        self._call("on_range_started", event)

    def on_range_finished(self, event: RangeEvent) -> None:
        self._call("on_range_finished", event)

    def on_range_failed(self, event: RangeEvent) -> None:
        self._call("on_range_failed", event)

    def on_progress(self, rows: int, bytes_: int) -> None:
        self._call("on_progress", rows, bytes_)

    def on_finish(self, summary: dict[str, Any]) -> None:
        self._call("on_finish", summary)


class LoggingListener(Listener):
    """One structured log record per range and per operation (JSON when asked)."""

    def __init__(self, logger: logging.Logger | None = None, as_json: bool = False):
        self.logger = logger or log
        self.as_json = as_json

    def _emit(self, level: int, what: str, data: dict[str, Any]) -> None:
        if self.as_json:
            self.logger.log(level, json.dumps({"event": what, **data}, default=str))
        else:
            self.logger.log(level, "%s %s", what, " ".join(f"{k}={v}" for k, v in data.items() if v is not None))

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self._emit(logging.INFO, "operation_started", {"operation_id": operation_id, "ranges": total_ranges, **info})

    def on_range_finished(self, event: RangeEvent) -> None:
        self._emit(logging.INFO, "range_skipped" if event.skipped else "range_finished", asdict(event))

    def on_range_failed(self, event: RangeEvent) -> None:
        self._emit(logging.ERROR, "range_failed", asdict(event))

    def on_finish(self, summary: dict[str, Any]) -> None:
        self._emit(logging.INFO, "operation_finished", summary)


@dataclass
class ProgressState:
    total_ranges: int = 0
    ranges_done: int = 0
    ranges_failed: int = 0
    rows: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict[str, Any]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        eta = None
        if self.ranges_done and self.total_ranges > self.ranges_done:
            eta = elapsed / self.ranges_done * (self.total_ranges - self.ranges_done)
        return {
            "ranges_total": self.total_ranges,
            "ranges_done": self.ranges_done,
            "ranges_failed": self.ranges_failed,
            "rows": self.rows,
            "bytes": self.bytes,
            "elapsed_s": round(elapsed, 3),
            "rows_per_s": round(self.rows / elapsed, 1),
            "mb_per_s": round(self.bytes / elapsed / 1e6, 3),
            "eta_s": None if eta is None else round(eta, 1),
        }


class ProgressFileListener(Listener):
    """Rewrites a small JSON file (atomically) for external monitors, at most every ``interval`` s."""

    def __init__(self, path: str, interval: float = 1.0):
        self.path, self.interval = path, interval
        self.state = ProgressState()
        self._last = 0.0
        self._lock = threading.Lock()

    def _write(self, force: bool = False) -> None:
        import os

        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.state.snapshot(), f)
        os.replace(tmp, self.path)

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        with self._lock:
            self.state = ProgressState(total_ranges=total_ranges)
            self._write(force=True)

    def on_progress(self, rows: int, bytes_: int) -> None:
        with self._lock:
            self.state.rows += rows
            self.state.bytes += bytes_
            self._write()

    def on_range_finished(self, event: RangeEvent) -> None:
        with self._lock:
            self.state.ranges_done += 1
            self._write(force=True)

    def on_range_failed(self, event: RangeEvent) -> None:
        with self._lock:
            self.state.ranges_failed += 1
            self._write(force=True)

    def on_finish(self, summary: dict[str, Any]) -> None:
        with self._lock:
            self._write(force=True)


class RichProgressListener(Listener):
    """A progress bar on a terminal: ranges done, rows, rows/s, MB/s, ETA."""

    def __init__(self, description: str = "export"):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.state = ProgressState()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            transient=False,
        )
        self.description = description
        self.task: Any = None
        self._lock = threading.Lock()

    def _stats(self) -> str:
        s = self.state.snapshot()
        return f"{s['rows']:,} rows  {s['rows_per_s']:,.0f} rows/s  {s['mb_per_s']:.1f} MB/s"

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self.state = ProgressState(total_ranges=total_ranges)
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=total_ranges, stats="")

    def on_progress(self, rows: int, bytes_: int) -> None:
        with self._lock:
            self.state.rows += rows
            self.state.bytes += bytes_
            self.progress.update(self.task, stats=self._stats())

    def on_range_finished(self, event: RangeEvent) -> None:
        with self._lock:
            self.state.ranges_done += 1
            self.progress.update(self.task, advance=1, stats=self._stats())

    def on_range_failed(self, event: RangeEvent) -> None:
        with self._lock:
            self.state.ranges_failed += 1
            self.progress.update(self.task, advance=1)

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.progress.stop()


class PrometheusListener(Listener):
    """Counters and gauges for Prometheus (extra ``metrics``): served on ``port`` and/or written to a
    node-exporter textfile. Metric names carry the ``cassandra_bulk_`` prefix and a ``table`` label."""

    def __init__(self, table: str, port: int | None = None, textfile: str | None = None, registry: Any = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

        self.registry = registry or CollectorRegistry()
        self.textfile, self.table = textfile, table
        labels = ["table"]
        self.rows = Counter("cassandra_bulk_rows", "Rows moved", labels, registry=self.registry)
        self.bytes = Counter("cassandra_bulk_bytes", "Arrow bytes moved", labels, registry=self.registry)
        self.ranges_done = Counter("cassandra_bulk_ranges_done", "Ranges finished", labels, registry=self.registry)
        self.ranges_failed = Counter("cassandra_bulk_ranges_failed", "Ranges failed", labels, registry=self.registry)
        self.ranges_total = Gauge("cassandra_bulk_ranges", "Ranges in the operation", labels, registry=self.registry)
        self.range_seconds = Gauge(
            "cassandra_bulk_last_range_seconds", "Duration of the last finished range", labels, registry=self.registry
        )
        if port is not None:
            start_http_server(port, registry=self.registry)

    def _flush(self) -> None:
        if self.textfile:
            from prometheus_client import write_to_textfile

            write_to_textfile(self.textfile, self.registry)

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self.ranges_total.labels(self.table).set(total_ranges)
        self._flush()

    def on_progress(self, rows: int, bytes_: int) -> None:
        self.rows.labels(self.table).inc(rows)
        self.bytes.labels(self.table).inc(bytes_)

    def on_range_finished(self, event: RangeEvent) -> None:
        self.ranges_done.labels(self.table).inc()
        self.range_seconds.labels(self.table).set(event.seconds)
        self._flush()

    def on_range_failed(self, event: RangeEvent) -> None:
        self.ranges_failed.labels(self.table).inc()
        self._flush()

    def on_finish(self, summary: dict[str, Any]) -> None:
        self._flush()


class WebhookListener(Listener):
    """POSTs each operation and range event as JSON to a URL (not per-batch progress: too chatty).

    A slow or failing endpoint costs at most ``timeout`` seconds per event and never fails the export.
    """

    def __init__(self, url: str, timeout: float = 5.0, headers: dict[str, str] | None = None):
        self.url, self.timeout = url, timeout
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def _post(self, what: str, data: dict[str, Any]) -> None:
        import urllib.request

        body = json.dumps({"event": what, **data}, default=str).encode()
        request = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        self._post("operation_started", {"operation_id": operation_id, "ranges": total_ranges, **info})

    def on_range_finished(self, event: RangeEvent) -> None:
        self._post("range_finished", asdict(event))

    def on_range_failed(self, event: RangeEvent) -> None:
        self._post("range_failed", asdict(event))

    def on_finish(self, summary: dict[str, Any]) -> None:
        self._post("operation_finished", summary)
