"""Binding a chunk: every record's writes, with their values serialized and their timestamps.

A record is written at its own write time (``writetime(col)`` fields, a per-row field), a fixed
one, or else at the operation timestamp + its position in the load (see :class:`_ChunkState`).
Rows without per-cell write times or lists take the fast path: one INSERT a row, serialized column
by column (:class:`_Write`); the others go row by row, their cells grouped by (timestamp, TTL).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..sources import Reject
from ..types import driver_values, encode
from .batching import _Rows
from .checks import _key_problems, _null_element_problems
from .mapping import _Plan
from .options import LoadOptions
from .statements import (
    _CLIENT_TIMESTAMP,
    _PACK_LONG,
    _bound,
    _ChunkState,
    _micros,
    _routing_keys,
    _Statements,
    _superseded_lists,
    _Write,
)

Bound = tuple[Any, Any, int, Any]
"""(write or None, row ref ``(state, row)``, token (unused: 0), problem or None)."""


@dataclass
class _RowColumns:
    """A chunk's columns as driver values, for the row-by-row path."""

    keys: list[list[Any]]
    values: list[list[Any]]
    writetimes: dict[str, Any]
    ttls: dict[str, Any]
    row_ts: list[Any] | None
    row_ttl: list[Any] | None
    dropped: set[Any]


class _Binder:
    """Turns a chunk's rows into writes; rows refused before binding come out with their reason."""

    def __init__(self, statements: _Statements, plan: _Plan, options: LoadOptions, partition_key_size: int):
        self.statements, self.plan = statements, plan
        self.null_to_unset = options.null_to_unset
        self.fixed_ts = options.write_timestamp
        self.fixed_ttl = options.ttl
        self.partition_key_size = partition_key_size
        self.value_cols = plan.columns[len(plan.keys) :]
        self.fast = not (plan.writetime_fields or plan.ttl_fields or plan.list_columns) and not plan.counter
        self.native = self.fast and encode.enabled() and encode.install(statements.session)
        """Rows encoded to wire bytes natively (see ``types.encode``), sent as blobs."""

    def bind(self, st: _ChunkState) -> Iterator[Bound]:
        """(write, row ref, token, problem) for every write of the chunk's rows."""
        from cassandra.query import UNSET_VALUE

        plan = self.plan
        batch = st.chunk.batch
        if batch.num_rows == 0:
            return
        st.static, st.bad = _key_problems(batch, plan)
        for r, reason in _null_element_problems(batch, plan).items():
            st.bad.setdefault(r, reason)
        unset = UNSET_VALUE if self.null_to_unset else None
        if self.fast:
            extras = {
                name: driver_values(batch.column(f"__{name}"), batch.schema.field(f"__{name}"))
                for name in (plan.row_timestamp, plan.row_ttl)
                if name
            }
            row_ts = extras.get(plan.row_timestamp) if plan.row_timestamp else None
            row_ttl = extras.get(plan.row_ttl) if plan.row_ttl else None
            yield from self._fast_rows(st, row_ts, row_ttl, unset)
            return
        columns = self._row_columns(batch)
        for r in range(batch.num_rows):
            if r in st.bad:
                yield None, (st, r), 0, st.bad[r]
            elif plan.counter:
                yield self._counter_write(st, r, columns)
            else:
                yield from self._row_writes(st, r, columns, unset)

    # -- the fast path: one INSERT a row -------------------------------------------------------------

    def _fast_rows(self, st: _ChunkState, row_ts: Any, row_ttl: Any, unset: Any) -> Iterator[Bound]:
        """Every row as one INSERT, serialized column by column (see :class:`_Write` and ``wire``)."""
        if self.native:
            yield from self._native_rows(st, row_ts, row_ttl, unset)
            return
        plan = self.plan
        prepared = self.statements.get(tuple(plan.columns))
        serialized, bad = self._serialize(st, prepared, unset)
        serialized.append(self._timestamps(st, row_ts, prepared.protocol_version))
        serialized.append(self._ttls(st.chunk.batch.num_rows, row_ttl, prepared.protocol_version))
        index = prepared.routing_key_indexes or list(range(self.partition_key_size))
        keys = _routing_keys([[b if isinstance(b, bytes) else b"" for b in serialized[i]] for i in index])
        static_idx = [j for j, c in enumerate(plan.columns) if c in plan.partition or c in plan.static_columns]
        static_prepared = self.statements.get(tuple(plan.columns[j] for j in static_idx)) if st.static else None
        for r, row in enumerate(zip(*serialized, strict=True)):
            if r in bad:
                yield None, (st, r), 0, bad[r]
            elif r in st.static:
                values = tuple(row[j] for j in static_idx) + row[-2:]
                yield _Write(static_prepared, values, keys[r]), (st, r), 0, None
            else:
                yield _Write(prepared, row, keys[r]), (st, r), 0, None

    def bind_all(self, st: _ChunkState) -> _Rows | None:
        """Every row's one write, in row order, when all of the chunk's rows are plain INSERTs
        encoded natively and none is refused or static-only: the loader then skips the per-row
        bookkeeping of :meth:`bind`. None otherwise (then :meth:`bind` does it all again)."""
        plan = self.plan
        batch = st.chunk.batch
        if not self.native or batch.num_rows == 0:
            return None
        st.static, st.bad = _key_problems(batch, plan)
        for r, reason in _null_element_problems(batch, plan).items():
            st.bad.setdefault(r, reason)
        if st.bad or st.static:
            return None
        prepared, blobs, keys, refused = self._encode(st, *self._row_extras(batch), self._unset())
        if refused:
            return None
        return _Rows(prepared, blobs, keys, _BlobWrite)

    def _unset(self) -> Any:
        from cassandra.query import UNSET_VALUE

        return UNSET_VALUE if self.null_to_unset else None

    def _row_extras(self, batch: pa.RecordBatch) -> tuple[Any, Any]:
        """The per-row timestamp and TTL fields' values (None without such a field)."""
        names = [f"__{name}" if name else None for name in (self.plan.row_timestamp, self.plan.row_ttl)]
        values = [driver_values(batch.column(c), batch.schema.field(c)) if c else None for c in names]
        return values[0], values[1]

    def _encode(
        self, st: _ChunkState, row_ts: Any, row_ttl: Any, unset: Any
    ) -> tuple[Any, list[bytes], list[bytes], dict[int, str]]:
        """The INSERT, each row's values blob and routing key, and the rows a value refused."""
        import pyarrow.compute as pc

        plan = self.plan
        prepared = self.statements.get(tuple(plan.columns))
        proto = prepared.protocol_version
        batch = st.chunk.batch
        n = batch.num_rows
        names = batch.schema.names
        metas = prepared.column_metadata
        columns = [
            (batch.column(names.index(c)), batch.schema.field(c), metas[j].type) for j, c in enumerate(plan.columns)
        ]
        if row_ts is not None:
            ts = encode.list_spec(self._timestamps(st, row_ts, proto))
        elif self.fixed_ts is not None:
            ts = encode.const_spec(_PACK_LONG(self.fixed_ts))
        else:
            ts = encode.int64_spec(pc.add(pa.array(st.chunk.ordinals, pa.int64()), pa.scalar(st.base, pa.int64())))
        ttls = self._ttls(n, row_ttl, proto)
        ttl = encode.list_spec(ttls) if row_ttl is not None else encode.const_spec(ttls[0] if n else None)
        index = prepared.routing_key_indexes or list(range(self.partition_key_size))
        blobs, keys, refused = encode.encode_rows(columns, [ts, ttl], proto, unset, index)
        return prepared, blobs, keys, refused

    def _native_rows(self, st: _ChunkState, row_ts: Any, row_ttl: Any, unset: Any) -> Iterator[Bound]:
        """:meth:`_fast_rows` with each row's values encoded natively into one blob (``types.encode``)."""
        plan = self.plan
        prepared, blobs, keys, refused = self._encode(st, row_ts, row_ttl, unset)
        bad = dict(st.bad)
        for r, reason in refused.items():
            bad.setdefault(r, reason)
        static_idx = [j for j, c in enumerate(plan.columns) if c in plan.partition or c in plan.static_columns]
        static_prepared = self.statements.get(tuple(plan.columns[j] for j in static_idx)) if st.static else None
        for r, (blob, key) in enumerate(zip(blobs, keys, strict=True)):
            if r in bad:
                yield None, (st, r), 0, bad[r]
            elif r in st.static:
                values = encode.values_of(blob)
                static_values = tuple(values[j] for j in static_idx) + tuple(values[-2:])
                yield _Write(static_prepared, static_values, key), (st, r), 0, None
            else:
                yield _BlobWrite(prepared, blob, key), (st, r), 0, None

    def _serialize(self, st: _ChunkState, prepared: Any, unset: Any) -> tuple[list[list[Any]], dict[int, str]]:
        """Each target column serialized; rows with a value the driver's type refuses → reason."""
        from ..wire import serialize_column

        batch = st.chunk.batch
        names = batch.schema.names
        metas = prepared.column_metadata
        bad = dict(st.bad)
        serialized: list[list[Any]] = []
        for j, c in enumerate(self.plan.columns):
            arr = batch.column(names.index(c))
            out, refused = serialize_column(arr, batch.schema.field(c), metas[j].type, prepared.protocol_version, unset)
            for r, reason in refused.items():
                bad.setdefault(r, f"field {c!r}: {reason}")
            serialized.append(out)
        return serialized, bad

    def _timestamps(self, st: _ChunkState, row_ts: Any, proto: int) -> list[Any]:
        from cassandra.cqltypes import LongType

        n = st.chunk.batch.num_rows
        if self.fixed_ts is not None:
            own = [_PACK_LONG(self.fixed_ts)] * n
        else:
            own = [_PACK_LONG(st.base + o) for o in st.chunk.ordinals]
        if row_ts is None:
            return own
        return [own[r] if t is None else LongType.serialize(t, proto) for r, t in enumerate(row_ts)]

    def _ttls(self, n: int, row_ttl: Any, proto: int) -> list[Any]:
        from cassandra.cqltypes import Int32Type
        from cassandra.query import UNSET_VALUE

        if row_ttl is not None:
            return [UNSET_VALUE if t is None else Int32Type.serialize(t, proto) for t in row_ttl]
        ttl = UNSET_VALUE if self.fixed_ttl is None else Int32Type.serialize(self.fixed_ttl, proto)
        return [ttl] * n

    # -- row by row: write times per cell, lists, counters -------------------------------------------

    def _row_columns(self, batch: pa.RecordBatch) -> _RowColumns:
        plan = self.plan
        cols = {f.name: driver_values(batch.column(i), f) for i, f in enumerate(batch.schema)}
        keys = [cols[k] for k in plan.keys]
        dropped = _superseded_lists(plan, keys, cols, not self.null_to_unset) if plan.list_columns else set()
        return _RowColumns(
            keys=keys,
            values=[cols[c] for c in self.value_cols],
            writetimes={c: _micros(cols.get(f"writetime({c})")) for c in plan.writetime_fields},
            ttls={c: cols[f"ttl({c})"] for c in plan.ttl_fields},
            row_ts=_micros(cols[f"__{plan.row_timestamp}"]) if plan.row_timestamp else None,
            row_ttl=cols[f"__{plan.row_ttl}"] if plan.row_ttl else None,
            dropped=dropped,
        )

    def _key(self, st: _ChunkState, r: int, columns: _RowColumns) -> tuple[list[Any], tuple[str, ...]]:
        """The row's key values and names: the partition key alone for a static-only row."""
        static_row = r in st.static
        key = [kv[r] for kv in columns.keys][: len(self.plan.partition) if static_row else None]
        return key, tuple(self.plan.keys[: len(key)])

    def _counter_write(self, st: _ChunkState, r: int, columns: _RowColumns) -> Bound:
        """One UPDATE of the row's non-null counters (a null counter was never written: it stays
        null, an increment of 0 would make it 0); nothing to write if all are null."""
        plan, vals = self.plan, columns.values
        static_row = r in st.static
        idx = [
            j
            for j, c in enumerate(self.value_cols)
            if vals[j][r] is not None and (not static_row or c in plan.static_columns)
        ]
        if not idx:
            return None, (st, r), 0, None
        key, key_names = self._key(st, r, columns)
        stmt = self.statements.get(tuple(self.value_cols[j] for j in idx) + key_names)
        return _bound(stmt, [vals[j][r] for j in idx] + key, st, r)

    def _row_writes(self, st: _ChunkState, r: int, columns: _RowColumns, unset: Any) -> Iterator[Bound]:
        """The row's cells in one statement per (timestamp, TTL) they are written with."""
        from cassandra.query import UNSET_VALUE

        key, key_names = self._key(st, r, columns)
        rts = columns.row_ts
        ts = rts[r] if rts is not None and rts[r] is not None else (self.fixed_ts or st.timestamp(r))
        ttl = columns.row_ttl[r] if columns.row_ttl is not None else self.fixed_ttl
        groups, latest = self._cell_groups(st, r, columns, ts, ttl)
        if not groups:
            groups[(None, UNSET_VALUE)] = []
        vals = columns.values
        for (g_ts, g_ttl), idx in groups.items():
            names = key_names + tuple(self.value_cols[j] for j in idx)
            values = key + [unset if vals[j][r] is None else vals[j][r] for j in idx]
            if g_ts is _CLIENT_TIMESTAMP:
                yield _bound(self.statements.get(names, timestamp=False), [*values, g_ttl], st, r)
                continue
            # Columns without a writetime of their own (collections, keys) take the row's newest.
            write_ts = g_ts if g_ts is not None else (latest if latest is not None else ts)
            yield _bound(self.statements.get(names), [*values, write_ts, g_ttl], st, r)

    def _cell_groups(
        self, st: _ChunkState, r: int, columns: _RowColumns, ts: Any, ttl: Any
    ) -> tuple[dict[tuple[Any, Any], list[int]], Any]:
        """Value column indexes grouped by (timestamp, TTL), and the newest write time of the row."""
        from cassandra.query import UNSET_VALUE

        plan = self.plan
        static_row = r in st.static
        groups: dict[tuple[Any, Any], list[int]] = defaultdict(list)
        latest = None
        for j, c in enumerate(self.value_cols):
            if (static_row and c not in plan.static_columns) or (r, c) in columns.dropped:
                continue
            if columns.values[j][r] is None:
                if not self.null_to_unset:
                    groups[(ts, UNSET_VALUE)].append(j)
                continue
            c_wt = columns.writetimes.get(c)
            c_ts = c_wt[r] if c_wt is not None else None
            c_ttl: Any = columns.ttls[c][r] if c in columns.ttls else ttl
            if c in columns.ttls and c_ttl is None:
                c_ttl = 0  # the cell had no TTL: write it without one, whatever the table default
            if c in plan.list_columns:
                c_ts = _CLIENT_TIMESTAMP
            groups[(c_ts, UNSET_VALUE if c_ttl is None else c_ttl)].append(j)
            if c_ts is not None and c_ts is not _CLIENT_TIMESTAMP and (latest is None or c_ts > latest):
                latest = c_ts
        return groups, latest


class _BlobWrite(_Write):
    """A write whose values are one natively encoded blob (``types.encode``): a batch carries the
    blob as it is; sent alone, it is bound from the values the blob holds."""

    __slots__ = ()

    def statement(self) -> Any:
        from cassandra.query import BoundStatement

        bound = BoundStatement(self.prepared)
        bound.values = encode.values_of(self.values)  # type: ignore[arg-type]
        bound.raw_values = bound.values
        bound._routing_key = self.routing_key
        return bound


class _Bound:
    """A chunk's writes, per row, and its problems (records refused before any write)."""

    def __init__(self) -> None:
        self.per_row: dict[int, list[Any]] = defaultdict(list)
        self.order: list[int] = []
        """Rows with writes, in chunk order."""
        self.empty: list[int] = []
        """Rows with nothing to write (a counter row whose counters are all null)."""
        self.singles: _Rows | None = None
        """Set instead of ``per_row`` when every row has exactly one write: row r's is ``singles[r]``."""
        self.problems: list[tuple[int, Reject]] = []
        self.resumed: list[int] = []
        """Ordinals written by the run this one resumes (skipped, counted as ``skipped_resumed``)."""

    def first_write(self, r: int) -> Any:
        """Row ``r``'s first write (its partition key is the row's)."""
        return self.singles[r] if self.singles is not None else self.per_row[r][0]
