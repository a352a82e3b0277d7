"""Sub-range streams in threads, one consumer, a bounded queue between them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from ..routing import SubRange

_DONE = object()


class _Fanout:
    """Sub-range streams run in threads and hand their batches to one consumer through a bounded
    queue (memory: ``streams x 2`` batches); the first error ends every stream and is re-raised."""

    def __init__(
        self,
        pieces: Sequence[SubRange],
        streams: int,
        stream: Callable[[SubRange, threading.Event], Iterator[pa.RecordBatch]],
        name: str,
    ):
        self.out: queue.Queue[Any] = queue.Queue(maxsize=streams * 2)
        self.todo: queue.Queue[SubRange] = queue.Queue()
        for p in pieces:
            self.todo.put(p)
        self.stop = threading.Event()
        self.stream, self.streams, self.name = stream, streams, name

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _worker(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    piece = self.todo.get_nowait()
                except queue.Empty:
                    break
                for batch in self.stream(piece, self.stop):
                    if not self._put(batch):
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        finally:
            self._put(_DONE)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        threads = [
            threading.Thread(target=self._worker, name=f"{self.name}-{i}", daemon=True) for i in range(self.streams)
        ]
        for t in threads:
            t.start()
        finished = 0
        try:
            while finished < self.streams:
                item = self.out.get()
                if item is _DONE:
                    finished += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=30)
