"""Grouping a chunk's writes into requests: unlogged batches of one partition or of one replica set,
bounded in statements, partitions and bytes; a lone write goes as itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..ring import owning_ring_token
from ..routing import ring_tokens
from .executor import Work
from .options import LoadOptions
from .statements import _ChunkState, _Write


class _Rows:
    """A chunk's writes when each row is one INSERT encoded natively (``types.encode``): the blobs
    and routing keys as the encoder returned them, a write object made only when one is asked for
    (a lone row, a batch the server refused, a token window)."""

    __slots__ = ("blobs", "keys", "make", "prepared")

    def __init__(self, prepared: Any, blobs: list[bytes], keys: list[bytes], make: Callable[..., _Write]):
        self.prepared, self.blobs, self.keys, self.make = prepared, blobs, keys, make

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitem__(self, r: int) -> _Write:
        return self.make(self.prepared, self.blobs[r], self.keys[r])


class _Some(Sequence[_Write]):
    """Rows ``idx`` of :class:`_Rows`, as the ``singles`` of a batch (read only if it is refused)."""

    __slots__ = ("idx", "rows")

    def __init__(self, rows: _Rows, idx: list[int]):
        self.rows, self.idx = rows, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[self.idx[i]]

    def __iter__(self) -> Iterator[_Write]:
        return (self.rows[i] for i in self.idx)


def _add_to_batch(batch: Any, write: _Write) -> None:
    if batch.routing_key is None:
        batch.routing_key = write.routing_key
        batch.keyspace = write.prepared.keyspace
    batch._statements_and_parameters.append((True, write.prepared.query_id, write.values))


def _token_function(cluster: Any) -> Callable[[bytes], int]:
    from cassandra.murmur3 import murmur3

    return murmur3


def _replica_function(cluster: Any, keyspace: str) -> Callable[[bytes], Any]:
    """Routing key → an id of its replica set. Replicas are looked up once per vnode (the ring
    token owning the key's token, as ``routing`` finds it), not once per row."""
    from cassandra.murmur3 import murmur3

    meta = cluster.metadata
    ring = ring_tokens(cluster)
    cache: dict[int, tuple[str, ...]] = {}

    def replicas(routing_key: bytes) -> Any:
        if not ring:
            return 0
        owner = owning_ring_token(murmur3(routing_key), ring)
        found = cache.get(owner)
        if found is None:
            found = tuple(sorted(str(h.endpoint) for h in meta.get_replicas(keyspace, routing_key)))
            cache[owner] = found
        return found

    return replicas


def _placement_groups(
    by_key: dict[Any, list[Any]], mode: str, replicas_of: Callable[[bytes], Any] | None
) -> tuple[list[list[Any]], list[list[Any]]]:
    """(rows of one partition, rows of lone partitions sharing a replica set), from rows by routing
    key. ``partition``: every partition is a group. ``replica-set``: every partition goes with the
    others of its replica set. ``auto``: partitions with several rows are groups, the lone rows go
    by replica set."""
    if mode == "partition":
        return list(by_key.values()), []
    groups: list[list[Any]] = []
    alone: dict[Any, list[Any]] = {}
    for key, rows in by_key.items():
        if mode == "auto" and len(rows) > 1:
            groups.append(rows)
        else:
            assert replicas_of is not None
            alone.setdefault(replicas_of(key), []).extend(rows)
    return groups, list(alone.values())


def _group_singles(
    order: list[int],
    writes: list[_Write] | _Rows,
    st: _ChunkState,
    options: LoadOptions,
    replicas_of: Callable[[bytes], Any] | None,
    consistency: Any,
    row_bytes: int,
) -> Iterator[Any]:
    """:func:`_group` for the common case of one write per row, with less per-row work: rows of a
    partition (and, in auto/replica-set mode, the lone rows of a replica set) are cut into batches
    by count, the byte bound turned into a count from the chunk's average row size. With
    :class:`_Rows` (natively encoded rows of one INSERT) a batch's blobs are joined once, here."""
    mode = options.batch_mode
    per_batch = max(1, min(options.max_batch_statements, options.max_batch_bytes // row_bytes))
    if mode == "disabled" or per_batch <= 1:
        for i, r in enumerate(order):
            yield Work(writes[i].statement(), [(st, r)])
        return
    by_key: dict[bytes, list[int]] = {}
    keys = writes.keys if isinstance(writes, _Rows) else [w.routing_key for w in writes]
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    groups, alone = _placement_groups(by_key, mode, replicas_of)
    per_partition_batch = max(1, min(per_batch, options.max_batch_partitions))
    for idx in alone:  # one row per partition here: the partition bound is a row bound
        groups.extend(idx[i : i + per_partition_batch] for i in range(0, len(idx), per_partition_batch))
    for idx in groups:
        for start in range(0, len(idx), per_batch):
            yield _single_batch(idx[start : start + per_batch], order, writes, st, consistency)


def _single_batch(
    piece: list[int], order: list[int], writes: list[_Write] | _Rows, st: _ChunkState, consistency: Any
) -> Any:
    """One request for rows of one write each: the write itself, or an unlogged batch of them."""
    from cassandra.query import BatchStatement, BatchType

    if len(piece) == 1:
        i = piece[0]
        return Work(writes[i].statement(), [(st, order[i])])
    batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=consistency)
    first = writes[piece[0]]
    batch.routing_key = first.routing_key
    batch.keyspace = first.prepared.keyspace
    if isinstance(writes, _Rows):
        from ..types.encode import blob_queries

        blobs = writes.blobs
        batch._statements_and_parameters = blob_queries(first.prepared.query_id, [blobs[i] for i in piece])
        return Work(batch, [(st, order[i]) for i in piece], singles=_Some(writes, piece))
    batch._statements_and_parameters = [(True, writes[i].prepared.query_id, writes[i].values) for i in piece]
    return Work(batch, [(st, order[i]) for i in piece], singles=[writes[i] for i in piece])


def _group(
    order: list[int],
    per_row: dict[int, list[Any]],
    st: _ChunkState,
    options: LoadOptions,
    replicas_of: Callable[[bytes], Any] | None,
    consistency: Any,
    batch_cls: Any,
    batch_type: Any,
    row_bytes: int,
) -> Iterator[Any]:
    """Requests for the chunk's rows: unlogged batches of one partition (or replica set), bounded
    in statements, partitions and bytes; a lone write goes as itself."""
    batcher = _Batcher(per_row, st, options, consistency, batch_cls, batch_type, row_bytes)
    mode = options.batch_mode
    if mode == "disabled" or options.max_batch_statements <= 1:
        for r in order:
            yield batcher.single(r)
        return
    by_partition: dict[Any, list[int]] = {}
    for r in order:
        by_partition.setdefault(per_row[r][0].routing_key, []).append(r)
    groups, alone = _placement_groups(by_partition, mode, replicas_of)
    batcher.max_partitions = 1 if mode == "partition" else max(1, options.max_batch_partitions)
    for rows in groups + alone:
        yield from batcher.batches(rows)


class _Batcher:
    """Cuts a group of rows (several writes each) into unlogged batches within the bounds."""

    def __init__(
        self,
        per_row: dict[int, list[Any]],
        st: _ChunkState,
        options: LoadOptions,
        consistency: Any,
        batch_cls: Any,
        batch_type: Any,
        row_bytes: int,
    ):
        self.per_row, self.st, self.consistency = per_row, st, consistency
        self.batch_cls, self.batch_type, self.row_bytes = batch_cls, batch_type, row_bytes
        self.max_statements = options.max_batch_statements
        self.max_bytes = options.max_batch_bytes
        self.max_partitions = 1

    def _new(self) -> Any:
        return self.batch_cls(batch_type=self.batch_type.UNLOGGED, consistency_level=self.consistency)

    def single(self, r: int) -> Any:
        """One row alone: its write, or its writes (column groups of one partition) in one batch."""
        writes = self.per_row[r]
        if len(writes) == 1:
            return Work(writes[0].statement(), [(self.st, r)])
        batch = self._new()
        for w in writes:
            _add_to_batch(batch, w)
        return Work(batch, [(self.st, r)])

    def _done(self, batch: Any, members: list[Any], parts: list[Any]) -> Any:
        return Work(batch, members, parts) if len(members) > 1 else self.single(members[0][1])

    def batches(self, rows: list[int]) -> Iterator[Any]:
        if len(rows) == 1:
            yield self.single(rows[0])
            return
        batch = self._new()
        members: list[Any] = []
        parts: list[tuple[Any, list[Any]]] = []
        keys: set[Any] = set()
        statements = size = 0
        for r in rows:
            writes = self.per_row[r]
            key = writes[0].routing_key
            full = (
                statements + len(writes) > self.max_statements
                or size + self.row_bytes > self.max_bytes
                or (key not in keys and len(keys) >= self.max_partitions)
            )
            if members and full:
                yield self._done(batch, members, parts)
                batch = self._new()
                members, parts, keys, statements, size = [], [], set(), 0, 0
            for w in writes:
                _add_to_batch(batch, w)
            parts.append(((self.st, r), writes))
            members.append((self.st, r))
            keys.add(key)
            statements += len(writes)
            size += self.row_bytes
        if members:
            yield self._done(batch, members, parts)
