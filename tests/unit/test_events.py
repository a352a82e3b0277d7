"""Listeners: a failing one never breaks the run; the built-ins produce what monitors read."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from cassandra_bulk_core.events import (
    CompositeListener,
    Listener,
    ProgressFileListener,
    PrometheusListener,
    RangeEvent,
    WebhookListener,
)


class Boom(Listener):
    def on_range_finished(self, event: RangeEvent) -> None:
        raise RuntimeError("listener bug")


class Recorder(Listener):
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_range_finished(self, event: RangeEvent) -> None:
        self.events.append(event.range_id)


def _drive(listener: Listener) -> None:
    listener.on_start("op1", 2, {"table": "ks.t"})
    listener.on_progress(10, 100)
    listener.on_range_finished(RangeEvent("op1", "r0-of-2", rows=10, bytes=100, files=1, seconds=0.5))
    listener.on_range_failed(RangeEvent("op1", "r1-of-2", error="boom"))
    listener.on_finish({"rows": 10})


def test_a_failing_listener_does_not_stop_the_others(caplog: Any) -> None:
    rec = Recorder()
    composite = CompositeListener([Boom(), rec])
    _drive(composite)
    _drive(composite)
    assert rec.events == ["r0-of-2", "r0-of-2"]
    assert sum("listener bug" in r.message for r in caplog.records) == 1  # reported once


def test_progress_file(tmp_path: Path) -> None:
    path = tmp_path / "progress.json"
    _drive(ProgressFileListener(str(path)))
    doc = json.loads(path.read_text())
    assert doc["ranges_total"] == 2 and doc["ranges_done"] == 1 and doc["ranges_failed"] == 1 and doc["rows"] == 10


def test_prometheus_textfile(tmp_path: Path) -> None:
    path = tmp_path / "metrics.prom"
    _drive(PrometheusListener("ks.t", textfile=str(path)))
    text = path.read_text()
    assert 'cassandra_bulk_rows_total{table="ks.t"} 10.0' in text
    assert 'cassandra_bulk_ranges_failed_total{table="ks.t"} 1.0' in text


def test_webhook_posts_json_events() -> None:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _drive(WebhookListener(f"http://127.0.0.1:{server.server_port}/hook"))
    finally:
        server.shutdown()
    assert [e["event"] for e in received] == [
        "operation_started",
        "range_finished",
        "range_failed",
        "operation_finished",
    ]
    assert received[1]["range_id"] == "r0-of-2" and received[1]["rows"] == 10
