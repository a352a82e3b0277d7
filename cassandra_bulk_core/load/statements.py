"""Prepared statements and binding: each record's statements with their values already serialized,
written at its own timestamp (its write time, a fixed one, or operation timestamp + position)."""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from typing import Any

from ..sources import (
    Chunk,
)
from ..table import TableInfo, quote
from .mapping import _Plan

_CLIENT_TIMESTAMP = object()
"""Group key for cells written with the driver's per-attempt client timestamp (non-frozen lists)."""


_PACK_LONG = struct.Struct(">q").pack


class _Statements:
    """Prepared INSERTs (or counter UPDATEs) per set of columns, made on first use."""

    def __init__(self, session: Any, info: TableInfo, plan: _Plan, consistency: Any):
        self.session, self.info, self.plan = session, info, plan
        self.consistency = consistency
        self.cache: dict[tuple[tuple[str, ...], bool], Any] = {}
        self.lock = threading.Lock()

    def get(self, columns: tuple[str, ...], timestamp: bool = True) -> Any:
        key = (columns, timestamp)
        stmt = self.cache.get(key)
        if stmt is not None:
            return stmt
        with self.lock:
            if key not in self.cache:
                self.cache[key] = self._prepare(columns, timestamp)
            return self.cache[key]

    def _prepare(self, columns: tuple[str, ...], timestamp: bool = True) -> Any:
        plan = self.plan
        if plan.counter:
            # Keys in ``columns``: all of them, or only the partition key for a static-only row.
            values = [c for c in columns if c not in plan.keys]
            sets = ", ".join(f"{quote(c)} = {quote(c)} + ?" for c in values)
            where = " AND ".join(f"{quote(k)} = ?" for k in plan.keys if k in columns)
            cql = f"UPDATE {self.info.qualified} SET {sets} WHERE {where}"
        else:
            names = ", ".join(quote(c) for c in columns)
            marks = ", ".join("?" for _ in columns)
            using = "USING TIMESTAMP ? AND TTL ?" if timestamp else "USING TTL ?"
            cql = f"INSERT INTO {self.info.qualified} ({names}) VALUES ({marks}) {using}"
        prepared = self.session.prepare(cql)
        prepared.consistency_level = self.consistency
        prepared.is_idempotent = not plan.counter
        return prepared


class _Write:
    """One statement's worth of values, already serialized: the cheap unit the batcher groups.

    The driver's ``bind()`` builds a namedtuple and checks encryption policies per value, which
    costs more than the write itself for small rows; columns here are serialized column by column
    with the driver's own type serializers, and batches get the bytes directly."""

    __slots__ = ("prepared", "routing_key", "values")

    def __init__(self, prepared: Any, values: Sequence[Any], routing_key: bytes):
        self.prepared, self.values, self.routing_key = prepared, values, routing_key

    @classmethod
    def of(cls, bound: Any) -> _Write:
        return cls(bound.prepared_statement, bound.values, bound.routing_key)

    def statement(self) -> Any:
        from cassandra.query import BoundStatement

        bound = BoundStatement(self.prepared)
        bound.values = list(self.values)
        bound.raw_values = bound.values
        bound._routing_key = self.routing_key
        return bound


def _routing_keys(parts: list[list[bytes]]) -> list[bytes]:
    """Routing keys from serialized partition key columns (the driver's composite encoding)."""
    if len(parts) == 1:
        return parts[0]
    import struct

    def pack(p: bytes) -> bytes:
        return struct.pack(f">H{len(p)}sB", len(p), p, 0)

    return [b"".join(pack(p) for p in values) for values in zip(*parts, strict=True)]


def _hashable(v: Any) -> Any:
    """A key value usable in a dict (frozen collections arrive as lists, sets, dicts)."""
    if isinstance(v, list | tuple):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((_hashable(k), _hashable(x)) for k, x in v.items())
    if isinstance(v, set | frozenset):
        return tuple(sorted(map(repr, v)))
    return v


def _superseded_lists(plan: _Plan, key_vals: list[list[Any]], vals: dict[str, list[Any]], explicit: bool) -> set[Any]:
    """(row, list column) cells a later record of the same primary key in the chunk overwrites.

    A list takes the driver's timestamp of its request (see :func:`_resolve`), the same for every
    statement of a batch: two records of one key in a batch would merge their lists. The later
    record's list is the one written; an earlier one is dropped."""
    n = len(key_vals[0]) if key_vals else 0
    written: set[tuple[int, str]] = set()
    last: dict[tuple[Any, str], int] = {}
    for c in plan.list_columns:
        col = vals[c]
        for r in range(n):
            if col[r] is not None or explicit:
                written.add((r, c))
                last[(_hashable(tuple(kv[r] for kv in key_vals)), c)] = r
    return written - {(r, c) for (_, c), r in last.items()}


class _ChunkState:
    __slots__ = ("bad", "base", "chunk", "failed", "pending", "static", "submitted")

    def __init__(self, chunk: Chunk, base: int = 0):
        self.chunk = chunk
        self.pending = 1  # held until every row is submitted
        self.submitted = False
        self.base = base
        """Write timestamp of the resource's record 0: operation timestamp + the resource's offset."""
        self.bad: dict[int, str] = {}
        """Rows refused before binding (null key, null collection element) → reason."""
        self.static: set[int] = set()
        """Static-only rows: partition key + static columns."""
        self.failed: set[int] = set()
        """Rows whose write failed after every retry: never checkpointed, so a resume sends them."""

    def timestamp(self, r: int) -> int:
        """The write timestamp of row ``r`` when it has none of its own."""
        return self.base + self.chunk.ordinals[r]


def _bound(prepared: Any, values: list[Any], st: _ChunkState, r: int) -> tuple[Any, Any, int, Any]:
    """Bind one statement; a value the driver cannot serialize rejects its record, not the load."""
    try:
        return _Write.of(prepared.bind(values)), (st, r), 0, None
    except Exception as exc:
        return (
            None,
            (st, r),
            0,
            f"cannot bind the record: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        )


def _micros(values: list[Any] | None) -> list[Any] | None:
    """Write times arrive as epoch microseconds (timestamp[us] → int64 through driver_values)."""
    return values
