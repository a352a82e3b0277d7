"""Arrow → Iceberg: the scan's Arrow types as types Iceberg stores as they are.

Iceberg has fewer primitive types than Arrow; these are the only changes, all lossless:
  int8, int16 (tinyint, smallint)  → int32 (Iceberg int)
  time64[ns] (time)                → int64 nanoseconds since midnight: Iceberg's time is
                                     microseconds, which would drop CQL's last 3 digits
  timestamp[ms] (timestamp)        → timestamp[us, UTC] (Iceberg timestamptz)
  fixed_size_list<T, n> (vector)   → list<T> (Iceberg has no fixed-size list; n is in the doc)
Everything else (string, binary, uuid, date, decimal(38, 0), bool, float/double, list, map, struct)
maps one to one. Each Iceberg field's doc holds the CQL type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .arrow import CQL_TYPE_KEY


def iceberg_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return pa.int32()
    if pa.types.is_time64(t) or pa.types.is_time32(t):
        return pa.int64()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(iceberg_field(t.value_field))
    if pa.types.is_map(t):
        return pa.map_(iceberg_field(t.key_field), iceberg_field(t.item_field))
    if pa.types.is_struct(t):
        return pa.struct([iceberg_field(f) for f in t])
    return t


def iceberg_field(f: pa.Field) -> pa.Field:
    metadata = dict(f.metadata or {})
    if CQL_TYPE_KEY in metadata:
        metadata[b"doc"] = b"cql: " + metadata[CQL_TYPE_KEY]
    return pa.field(f.name, iceberg_type(f.type), nullable=f.nullable, metadata=metadata)


def iceberg_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema whose every type Iceberg stores as is (see the table above)."""
    return pa.schema([iceberg_field(f) for f in schema])


# Iceberg stores timestamps as int64 microseconds: CQL's int64 milliseconds reach 1000x further.
_ICEBERG_MS = (-(2**63) // 1000 + 1, (2**63 - 1) // 1000)


def to_iceberg_batch(
    batch: pa.RecordBatch, target: pa.Schema, out_of_range: dict[str, int] | None = None
) -> pa.RecordBatch:
    """Cast a scan batch to :func:`iceberg_schema` types (cheap: widenings and unit changes).

    A timestamp beyond Iceberg's microsecond range (about ±292,000 years, which CQL's millisecond
    timestamps exceed) cannot be stored there: it becomes null and is counted per column in
    ``out_of_range`` for the caller to report, instead of failing its whole token range."""
    arrays = []
    for field in target:
        column = batch.column(batch.schema.get_field_index(field.name))
        if pa.types.is_time64(column.type):
            column = column.cast(pa.int64())
        if pa.types.is_timestamp(column.type) and column.type.unit == "ms" and column.null_count < len(column):
            column = _null_beyond_micros(column, field.name, out_of_range)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _null_beyond_micros(column: pa.Array, name: str, out_of_range: dict[str, int] | None) -> pa.Array:
    ms = column.cast(pa.int64())
    bounds = pc.min_max(ms).as_py()
    if _ICEBERG_MS[0] <= bounds["min"] and bounds["max"] <= _ICEBERG_MS[1]:
        return column
    outside = pc.or_(pc.less(ms, _ICEBERG_MS[0]), pc.greater(ms, _ICEBERG_MS[1]))
    if out_of_range is not None:
        out_of_range[name] = out_of_range.get(name, 0) + int(pc.sum(outside).as_py() or 0)
    return pc.if_else(outside, pa.scalar(None, column.type), column)
