"""The checkpoint: per resource, the ordinal intervals whose every record was acknowledged or
rejected, and each resource's position in the load (its records' write timestamps); a resumed
run with the same fingerprint skips what is done and replays the rest at the same timestamps.

It is written at a bounded interval (issue "Faults", item 8: a chunk was marked only once all of
it was acknowledged, and the file written only between chunks, so a checkpoint could still be
empty after 100k written rows): every acknowledged record is noted as it is acknowledged, and a
saver thread folds those notes into the intervals and writes the file every ``seconds`` or as
soon as ``records`` more were acknowledged. Only acknowledged records are noted; a failed write
never is (item 1), so a resume sends exactly those again."""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .. import __version__
from ..errors import LoadCancelled
from ..table import TableInfo
from .options import LoadOptions


class Intervals:
    """Sorted disjoint ``[a, b)`` ordinal intervals, merged as they are added."""

    def __init__(self, spans: Sequence[Sequence[int]] = ()):
        self.spans: list[list[int]] = sorted([list(s) for s in spans])

    def add(self, a: int, b: int) -> None:
        if a >= b:
            return
        out: list[list[int]] = []
        for s in self.spans:
            if s[1] < a or s[0] > b:
                out.append(s)
            else:
                a, b = min(a, s[0]), max(b, s[1])
        out.append([a, b])
        self.spans = sorted(out)

    def covers(self, a: int, b: int) -> bool:
        # The span starting at or before ``a`` is the only one that can cover [a, b) (disjoint spans).
        i = bisect.bisect_right(self.spans, [a, float("inf")]) - 1
        return i >= 0 and self.spans[i][0] <= a and b <= self.spans[i][1]

    def total(self) -> int:
        return sum(b - a for a, b in self.spans)

    @classmethod
    def union(cls, parts: Iterable[Intervals]) -> Intervals:
        """Every ordinal any of ``parts`` covers, merged in one sorted sweep."""
        spans = sorted((s[0], s[1]) for part in parts for s in part.spans)
        out: list[list[int]] = []
        for a, b in spans:
            if out and a <= out[-1][1]:
                out[-1][1] = max(out[-1][1], b)
            else:
                out.append([a, b])
        merged = cls()
        merged.spans = out
        return merged


class Checkpoint:
    """What is finished, per resource; written atomically (temp file + rename)."""

    def __init__(self, path: str, fingerprint: str, operation_id: str, timestamp: int):
        self.path = path
        self.fingerprint = fingerprint
        self.operation_id = operation_id
        self.timestamp = timestamp
        self.done: dict[str, Intervals] = defaultdict(Intervals)
        self.complete: set[str] = set()
        self.offsets: dict[str, int] = {}
        """Position of each resource's first record in the load (per-record timestamps)."""
        self.records: dict[str, int] = {}
        """Records in each resource read to its end."""
        self.lock = threading.Lock()
        self.last_write = 0.0
        self.acked: dict[str, list[int]] = defaultdict(list)
        """Ordinals acknowledged since the last write, folded into ``done`` when it is written."""
        self.acked_count = 0
        self.every_seconds = 5.0
        """Write at least this often (while the load runs), whatever the reader is doing."""
        self.every_records = 50_000
        """... and as soon as this many more records were acknowledged."""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        self.share: tuple[int, int] | None = None
        """``(k, n)`` in one worker's checkpoint of a load in ``n`` processes (see ``processes``);
        None in a load's own checkpoint (one process, or the workers' merged into one)."""
        self.base_fingerprint: str | None = None
        """A worker's checkpoint: the fingerprint of the whole load it is a share of."""

    @classmethod
    def read(cls, path: str) -> Checkpoint:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        cp = cls(path, doc["fingerprint"], doc["operation_id"], int(doc["timestamp"]))
        if doc.get("share") is not None:
            cp.share = (int(doc["share"][0]), int(doc["share"][1]))
            cp.base_fingerprint = doc.get("base_fingerprint")
        for name, res in doc["resources"].items():
            cp.done[name] = Intervals(res["done"])
            if res.get("complete"):
                cp.complete.add(name)
            if res.get("offset") is not None:
                cp.offsets[name] = int(res["offset"])
            if res.get("records") is not None:
                cp.records[name] = int(res["records"])
        return cp

    def mark(self, resource: str, a: int, b: int) -> None:
        with self.lock:
            self.done[resource].add(a, b)

    def finish(self, resource: str) -> None:
        with self.lock:
            self.complete.add(resource)

    def ack(self, records: Iterable[tuple[str, int]]) -> None:
        """Note records (resource, ordinal) whose writes were acknowledged; cheap (called from the
        driver's callbacks): the saver folds them into the intervals."""
        n = 0
        with self.lock:
            for resource, ordinal in records:
                self.acked[resource].append(ordinal)
                n += 1
            self.acked_count += n
            due = self.acked_count >= self.every_records
        if due:
            self._wake.set()

    def start_saver(self, seconds: float | None = None, records: int | None = None) -> None:
        """Write the file every ``seconds`` (or after ``records`` more acknowledgements) on a thread
        of its own until :meth:`stop_saver`, so the reader blocked on a slow cluster does not hold it."""
        if seconds is not None:
            self.every_seconds = max(0.05, seconds)
        if records is not None:
            self.every_records = max(1, records)
        if self._saver is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.every_seconds)
                self._wake.clear()
                if self._stop.is_set():
                    return
                # A full disk: the next write tries again, the final one raises.
                with contextlib.suppress(OSError):
                    self.write(force=True)

        self._saver = threading.Thread(target=loop, name="load-checkpoint", daemon=True)
        self._saver.start()

    def stop_saver(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._saver is not None:
            self._saver.join(timeout=30)
            self._saver = None

    def _fold_acked(self) -> None:
        """Acknowledged ordinals into ``done`` as spans (caller holds the lock)."""
        for resource, ordinals in self.acked.items():
            if ordinals:
                ordinals.sort()
                for a, b in _spans(ordinals):
                    self.done[resource].add(a, b)
        self.acked.clear()
        self.acked_count = 0

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_write < self.every_seconds:
            return
        with self.lock:
            self._fold_acked()
            doc = {
                "version": __version__,
                "fingerprint": self.fingerprint,
                "operation_id": self.operation_id,
                "timestamp": self.timestamp,
                "resources": {
                    name: {
                        "done": self.done[name].spans if name in self.done else [],
                        "complete": name in self.complete,
                        "offset": self.offsets.get(name),
                        "records": self.records.get(name),
                    }
                    for name in sorted(set(self.done) | set(self.offsets))
                },
            }
            if self.share is not None:
                doc["share"] = list(self.share)
                doc["base_fingerprint"] = self.base_fingerprint
            tmp = f"{self.path}.tmp-{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(tmp, self.path)
            self.last_write = now


class _Positions:
    """Each record's position in the whole load (its files in order), for its write timestamp.

    Every record is written at ``operation timestamp + position`` µs, so of two records with the
    same primary key the later one wins, as it would with one write after the other (with one
    timestamp for all, Cassandra breaks the tie by comparing the values). Positions depend only on
    the files, so a resumed run writes every replayed cell with the same timestamp: resources take
    their offsets from the checkpoint, new ones start after the last one read to its end."""

    def __init__(self, checkpoint: Checkpoint):
        self.checkpoint = checkpoint
        ends = [off + checkpoint.records[r] for r, off in checkpoint.offsets.items() if r in checkpoint.records]
        self.next = max(ends, default=0)
        self.resource: str | None = None
        self.offset = 0
        self.end = 0

    def start(self, resource: str) -> int:
        offset = self.checkpoint.offsets.get(resource)
        if offset is None:
            offset = self.next
            with self.checkpoint.lock:
                self.checkpoint.offsets[resource] = offset
        self.resource, self.offset, self.end = resource, offset, 0
        return offset

    def seen(self, end: int) -> None:
        self.end = max(self.end, end)

    def finish(self) -> None:
        """The resource was read to its end: record its size, and start the next one after it."""
        if self.resource is None:
            return
        done = self.checkpoint.done.get(self.resource)
        if done is not None and done.spans:
            self.end = max(self.end, done.spans[-1][1])
        with self.checkpoint.lock:
            self.checkpoint.records[self.resource] = self.end
        self.next = max(self.next, self.offset + self.end)
        self.resource = None


def _fingerprint(info: TableInfo, options: LoadOptions, fmt: str, snapshot: int | None) -> str:
    doc = {
        "table": f"{info.keyspace}.{info.table}",
        "source": options.source,
        "format": fmt,
        "snapshot": snapshot,
        "mapping": dict(options.mapping or {}),
        "range": options.only_range,
        "window": options.range_window.to_dict() if options.range_window else None,
        "pattern": options.file_pattern,
        "filter": options.iceberg.row_filter if options.iceberg else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _find_checkpoint(log_dir: str, fp: str) -> str | None:
    """The newest checkpoint under ``log_dir`` written by a load with the same fingerprint."""
    if not os.path.isdir(log_dir):
        return None
    found = []
    for name in os.listdir(log_dir):
        path = os.path.join(log_dir, name, "checkpoint.json")
        if name.startswith("load_") and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    if json.load(f).get("fingerprint") == fp:
                        found.append((os.path.getmtime(path), path))
            except (OSError, ValueError):
                continue
    return max(found)[1] if found else None


def merge_checkpoints(start: Checkpoint, shares: Sequence[Checkpoint | None], path: str) -> Checkpoint:
    """The checkpoint of a whole load from its workers' (``shares``; None for a worker that wrote
    none yet), each of which began from ``start``: the records any of them finished are finished;
    a resource is complete once every worker finished its share of it (or ``start`` says so).
    Offsets and record counts are the same in every worker (positions never depend on the share)."""
    states = [s if s is not None else start for s in shares]
    out = Checkpoint(path, start.fingerprint, start.operation_id, start.timestamp)
    for name in {n for cp in [start, *states] for n in cp.done}:
        out.done[name] = Intervals.union(cp.done[name] for cp in [start, *states] if name in cp.done)
    everyone = set.intersection(*(set(s.complete) for s in states)) if states else set()
    out.complete = set(start.complete) | everyone
    for cp in [start, *states]:
        for name, offset in cp.offsets.items():
            out.offsets.setdefault(name, offset)
        for name, records in cp.records.items():
            out.records.setdefault(name, records)
    return out


def _spans(ordinals: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Runs of consecutive ordinals as ``[a, b)`` spans."""
    start = prev = None
    for o in ordinals:
        if start is None:
            start = prev = o
        elif o == prev + 1:  # type: ignore[operator]
            prev = o
        else:
            yield start, prev + 1  # type: ignore[operator]
            start = prev = o
    if start is not None:
        yield start, prev + 1  # type: ignore[operator]


def _mark_complete_when_done(checkpoint: Checkpoint, resource: str, executor: Any, cancel: Any) -> None:
    """A resource is complete once everything read from it is acknowledged: cheap to check at the
    end of each resource by draining, which also bounds memory to one resource's in-flight writes."""
    if executor is not None:
        executor.drain()
    if cancel is not None and cancel.is_set():
        raise LoadCancelled("load cancelled")
    checkpoint.finish(resource)
