"""Source fields → target columns: the mapping, missing and extra fields, write time / TTL fields,
static and list columns, counters. Every decision that can fail fails here, before any write."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..sources import (
    META_PREFIX,
    Chunk,
    Target,
)
from ..table import TableInfo, quote
from ..types import arrow_field, column_type
from .options import LoadOptions

log = logging.getLogger("cassandra_bulk.load")


WRITETIME_FIELD = pa.timestamp("us", tz="UTC")


@dataclass
class _Plan:
    """What to write: target columns (key columns first), where each comes from, and how."""

    columns: list[str]
    fields: list[pa.Field]
    targets: list[Target]
    keys: list[str]
    counter: bool
    writetime_fields: dict[str, str]
    """column → source field holding its write time (``writetime(col)``)."""
    ttl_fields: dict[str, str]
    row_timestamp: str | None
    row_ttl: str | None
    source_fields: list[str] | None
    list_columns: frozenset[str] = frozenset()
    """Non-frozen lists: written without an explicit timestamp (see :func:`_resolve`)."""
    partition: tuple[str, ...] = ()
    clustering: tuple[str, ...] = ()
    static_columns: frozenset[str] = frozenset()
    """Target static columns: a record with null clustering columns and only these (and the
    partition key) set is a static-only partition, written as such."""
    unmapped: tuple[str, ...] = ()
    """Source fields mapped to no column (reported, not loaded)."""
    functions: dict[str, str] = field(default_factory=dict)
    """column → the mapping function filling it (``now()``): one value for the whole load."""


def _canonical_fields(session: Any, info: TableInfo, columns: list[str]) -> list[pa.Field]:
    """Each column's canonical Arrow field (the export's), from the driver's type metadata."""
    names = ", ".join(quote(c) for c in columns)
    prepared = session.prepare(f"SELECT {names} FROM {info.qualified} LIMIT 1")
    out = []
    for c, meta in zip(columns, prepared.result_metadata, strict=True):
        ctype = column_type(meta[3])
        f = arrow_field(c, ctype, nullable=True)
        out.append(f.with_metadata({b"cql_type": info.metadata.columns[c].cql_type.encode()}))
    return out


NOW = "now()"
"""The mapping function DSBulk accepts in place of a field (``-m 'k=k, now()=ts'``): the load's time."""
NOW_TYPES = ("timestamp", "timeuuid")


def _is_function(name: str) -> bool:
    return name.strip().lower() == NOW


def positional(mapping: Mapping[str, str | Sequence[str]] | None) -> bool:
    """Whether a mapping names fields by position (``0=k, 1=v``: a CSV file without a header)."""
    names = [f for f in (mapping or {}) if not _is_function(f)]
    return bool(names) and all(f.strip().isdigit() for f in names)


def _resolve(session: Any, info: TableInfo, options: LoadOptions, source_fields: list[str] | None) -> _Plan:
    """Match source fields to columns; every decision that can fail fails here, before any write."""
    keys = list(info.partition_key) + list(info.clustering_key)
    known = set(source_fields) if source_fields is not None else None
    by_column = _mapped_columns(info, options, source_fields)
    columns = keys + [c for c in info.columns if c in by_column and c not in keys]
    fields = _canonical_fields(session, info, columns)
    counter = any(info.metadata.columns[c].cql_type == "counter" for c in info.columns)
    functions = {c: by_column[c].strip().lower() for c in columns if _is_function(by_column[c])}
    for c in functions:
        cql = info.metadata.columns[c].cql_type
        if cql not in NOW_TYPES:
            raise ConfigError(f"mapping: {NOW} fills a timestamp or timeuuid column, not {c!r} ({cql})")
    targets = [Target(by_column[c], f) for c, f in zip(columns, fields, strict=True) if c not in functions]
    values = [c for c in columns[len(keys) :] if c not in functions]
    wt, tl = _cell_time_fields(options, known, counter, values, targets)
    row_ts, row_ttl = options.timestamp_field, options.ttl_field
    for name, typ, cql in ((row_ts, WRITETIME_FIELD, b"timestamp"), (row_ttl, pa.int32(), b"int")):
        if name:
            if known is not None and name not in known:
                raise ConfigError(f"the source has no field {name!r} (for the write time / TTL)")
            targets.append(Target(name, pa.field(f"__{name}", typ, metadata={b"cql_type": cql})))
    if counter and (options.write_timestamp or options.ttl or row_ts or row_ttl):
        raise ConfigError("counter tables take no write timestamp or TTL")
    extra = _extra_fields(info, options, source_fields, targets)
    # A non-frozen list's elements are keyed by a time UUID made at write time, and writing the whole
    # list deletes the old one with a tombstone at (timestamp - 1): rewritten at the *same* timestamp
    # (a retry, a resume, an orchestrator re-run), the old elements survive and the list doubles.
    # So lists go in their own INSERT with the driver's client timestamp, new on every attempt: a
    # replay replaces the list. Sets, maps and UDTs are keyed by value and need none of this.
    lists = frozenset(
        c for c in columns[len(keys) :] if info.metadata.columns[c].cql_type.startswith("list<") and not counter
    )
    statics = frozenset(c for c in columns[len(keys) :] if getattr(info.metadata.columns[c], "is_static", False))
    return _Plan(
        columns,
        fields,
        targets,
        keys,
        counter,
        wt,
        tl,
        row_ts,
        row_ttl,
        source_fields,
        lists,
        tuple(info.partition_key),
        tuple(info.clustering_key),
        statics,
        tuple(extra),
        functions,
    )


def _mapped_columns(info: TableInfo, options: LoadOptions, source_fields: list[str] | None) -> dict[str, str]:
    """column → its source field (or function), after the checks for missing fields."""
    keys = list(info.partition_key) + list(info.clustering_key)
    known = set(source_fields) if source_fields is not None else None
    by_column = _by_column(info, options.mapping, source_fields)
    if known is not None and options.mapping:
        absent = sorted({f for f in by_column.values() if f not in known and not _is_function(f)})
        if absent and not options.allow_missing_fields:
            raise ConfigError(f"the source has no field(s) {', '.join(absent)} named in the mapping")
        by_column = {c: f for c, f in by_column.items() if f in known or _is_function(f)}
    missing_keys = [k for k in keys if k not in by_column]
    have = ", ".join(source_fields) if source_fields is not None else "unknown"
    if missing_keys:
        raise ConfigError(f"no source field for primary key column(s) {', '.join(missing_keys)} (fields: {have})")
    if known is not None and not options.mapping and not options.allow_missing_fields:
        # DSBulk's default: a column of the table no field fills is a mistake (a misspelt header),
        # not a column to leave silently empty.
        unfilled = [c for c in info.columns if c not in by_column]
        if unfilled:
            raise ConfigError(
                f"no source field for column(s) {', '.join(unfilled)} of {info.keyspace}.{info.table} "
                f"(fields: {have}); map them with -m field=column, or allow missing fields to leave them unset"
            )
    return by_column


def _cell_time_fields(
    options: LoadOptions, known: set[str] | None, counter: bool, values: list[str], targets: list[Target]
) -> tuple[dict[str, str], dict[str, str]]:
    """column → its ``writetime(col)`` field, column → its ``ttl(col)`` field (an export with
    --writetime), when the options keep them; their targets are added to ``targets``."""
    wt: dict[str, str] = {}
    tl: dict[str, str] = {}
    if not options.preserve_writetime or known is None or counter:
        return wt, tl
    for c in values:
        if f"writetime({c})" in known and options.write_timestamp is None and not options.timestamp_field:
            wt[c] = f"writetime({c})"
            targets.append(Target(wt[c], pa.field(wt[c], WRITETIME_FIELD, metadata={b"cql_type": b"timestamp"})))
        if f"ttl({c})" in known and options.ttl is None and not options.ttl_field:
            tl[c] = f"ttl({c})"
            targets.append(Target(tl[c], pa.field(tl[c], pa.int32(), metadata={b"cql_type": b"int"})))
    return wt, tl


def _extra_fields(
    info: TableInfo, options: LoadOptions, source_fields: list[str] | None, targets: list[Target]
) -> list[str]:
    """Source fields no target reads (an export's metadata and write time fields aside): refused
    unless extra fields are allowed, else reported."""
    if source_fields is None:
        return []
    used = {t.source for t in targets}
    extra = [
        f
        for f in source_fields
        if f not in used and not f.startswith(META_PREFIX) and not f.startswith(("writetime(", "ttl("))
    ]
    if extra and not options.allow_extra_fields:
        raise ConfigError(f"source field(s) {', '.join(extra)} map to no column (allow extra fields to ignore)")
    if extra:
        log.warning("source field(s) %s map to no column of %s: ignored", ", ".join(extra), info.qualified)
    return extra


def _mapping_pairs(mapping: Mapping[str, str | Sequence[str]]) -> list[tuple[str, str]]:
    """(field, column) pairs; a field may name several columns (``{"v": ["v1", "v2"]}``)."""
    pairs = []
    for fld, cols in mapping.items():
        for col in [cols] if isinstance(cols, str) else list(cols):
            pairs.append((fld, col))
    return pairs


def _by_column(
    info: TableInfo, mapping: Mapping[str, str | Sequence[str]] | None, source_fields: list[str] | None
) -> dict[str, str]:
    """column → the source field it is read from: the explicit mapping, else by name (exact, then
    case-insensitive). One field may fill several columns; two fields for one column is an error."""
    table_cols = list(info.columns)
    if not mapping:
        known = set(source_fields) if source_fields is not None else None
        by_column = {c: c for c in table_cols if known is None or c in known}
        if known is not None:
            lowered = {f.lower(): f for f in known}
            for c in table_cols:
                if c not in by_column and c.lower() in lowered:
                    by_column[c] = lowered[c.lower()]
        return by_column
    pairs = _mapping_pairs(mapping)
    unknown = [c for _, c in pairs if c not in table_cols]
    if unknown:
        raise ConfigError(f"mapping names column(s) not in {info.keyspace}.{info.table}: {', '.join(unknown)}")
    by_column = {}
    for fld, col in pairs:
        if col in by_column and by_column[col] != fld:
            raise ConfigError(
                f"mapping sends two fields into column {col!r} ({by_column[col]!r} and {fld!r}); "
                "a column takes one field"
            )
        by_column[col] = fld
    return by_column


def function_values(plan: _Plan, timestamp: int, seed: str) -> dict[str, pa.Scalar]:
    """column → the value of its mapping function, one for the whole load: ``now()`` is the load's
    operation timestamp (kept by its checkpoint, so a resumed load writes the same value), as a
    timestamp or as a time UUID whose clock sequence and node come from ``seed`` (the operation)."""
    out = {}
    for c in plan.functions:
        f = plan.fields[plan.columns.index(c)]
        if (f.metadata or {}).get(b"cql_type") == b"timeuuid":
            out[c] = pa.scalar(_time_uuid(timestamp, seed).bytes, f.type)
        else:
            out[c] = pa.scalar(timestamp // 1000, f.type)
    return out


def with_functions(chunk: Chunk, plan: _Plan, values: dict[str, pa.Scalar]) -> Chunk:
    """The chunk with a column for each mapping function (its one value on every row)."""
    if not values:
        return chunk
    batch = chunk.batch
    for c, value in values.items():
        batch = batch.append_column(plan.fields[plan.columns.index(c)], pa.repeat(value, batch.num_rows))
    return replace(chunk, batch=batch)


def _time_uuid(micros: int, seed: str) -> uuid.UUID:
    """A version 1 UUID at ``micros`` (epoch µs), its clock sequence and node from ``seed``."""
    ticks = micros * 10 + 0x01B21DD213814000  # 100 ns since 1582-10-15
    digest = hashlib.sha256(seed.encode()).digest()
    clock_seq = int.from_bytes(digest[:2], "big") & 0x3FFF
    node = int.from_bytes(digest[2:8], "big") | 0x010000000000  # multicast bit: not a real MAC
    return uuid.UUID(
        fields=(
            ticks & 0xFFFFFFFF,
            (ticks >> 32) & 0xFFFF,
            ((ticks >> 48) & 0x0FFF) | 0x1000,
            ((clock_seq >> 8) & 0x3F) | 0x80,
            clock_seq & 0xFF,
            node,
        )
    )
