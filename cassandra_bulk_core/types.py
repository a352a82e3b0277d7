"""CQL ⇄ Arrow type mapping: one rule per CQL type, in one place.

Every rule says what a driver value becomes in Arrow and why. Lossless unless stated:

=================  ==========================================  ===================================
CQL                Arrow                                       note
=================  ==========================================  ===================================
ascii, text        string
tinyint..bigint    int8, int16, int32, int64
counter            int64
varint             decimal128(38, 0)                           values beyond 38 digits are rejected
decimal            string (canonical CQL literal)              a CQL decimal has a scale per value;
                                                               no fixed-scale Arrow decimal holds
                                                               every value, the literal does
float, double      float32, float64                            NaN and ±Infinity kept
boolean            bool
blob               binary
uuid, timeuuid     uuid (extension over fixed_size_binary(16))
inet               string                                      v4 dotted, v6 as the driver prints
date               date32                                      days since 1970, any CQL date
time               time64[ns]
timestamp          timestamp[ms, UTC]                          CQL timestamps are milliseconds
duration           struct<months:int32, days:int32,            Arrow's month_day_nano interval is
                   nanoseconds:int64>                          not writable to Parquet/Iceberg
list, set          list<element>                               a set keeps its sorted order
map                map<key, value>
tuple              struct<f0, f1, ...>
UDT                struct<field names>
vector<T, n>       fixed_size_list<T, n>
frozen<T>          as T
=================  ==========================================  ===================================

Each Arrow field carries the CQL type in its metadata (``cql_type``), so a loader can rebuild the
exact CQL type without asking the cluster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

Normalizer = Callable[[Any], Any]
"""Turns a driver value (never None) into something ``pyarrow.array`` accepts for the type."""

_EPOCH_DATE = dt.date(1970, 1, 1)

DURATION_TYPE = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())])

CQL_TYPE_KEY = b"cql_type"


class UnsupportedType(TypeError):
    pass


@dataclass(frozen=True)
class ColumnType:
    """A CQL type with its Arrow type and the per-value normalizer (None: values pass as they are)."""

    cql: str
    arrow: pa.DataType
    normalize: Normalizer | None = None


_SIMPLE: dict[str, pa.DataType] = {
    "ascii": pa.string(),
    "text": pa.string(),
    "varchar": pa.string(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "counter": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "blob": pa.binary(),
    "inet": pa.string(),
    "time": pa.time64("ns"),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "date": pa.date32(),
    "varint": pa.decimal128(38, 0),
    "decimal": pa.string(),
    "uuid": pa.uuid(),
    "timeuuid": pa.uuid(),
    "duration": DURATION_TYPE,
}


def _date_days(v: Any) -> int:
    # The driver returns datetime.date inside Python's range and util.Date outside it.
    if isinstance(v, dt.date):
        return (v - _EPOCH_DATE).days
    return int(v.days_from_epoch)


def _time_nanos(v: Any) -> int:
    if isinstance(v, dt.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    return int(v.nanosecond_time)


_EPOCH = dt.datetime(1970, 1, 1)


def _timestamp_ms(v: Any) -> int:
    """Epoch milliseconds, rounded: the driver builds datetimes through a float of seconds, which
    is off by up to tens of microseconds for far dates (...59.999 arrives as ...59.998993); the
    nearest millisecond is the exact stored value. Ints (out of datetime's range) pass through."""
    if isinstance(v, int):
        return v
    naive = v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v
    delta = naive - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + (delta.microseconds + 500) // 1000


def _decimal_text(v: Any) -> str:
    return str(v)


def _duration(v: Any) -> dict[str, int]:
    return {"months": v.months, "days": v.days, "nanoseconds": v.nanoseconds}


def _uuid_bytes(v: Any) -> bytes:
    return bytes(v.bytes)


_SIMPLE_NORMALIZERS: dict[str, Normalizer] = {
    "uuid": _uuid_bytes,
    "timeuuid": _uuid_bytes,
    "date": _date_days,
    "time": _time_nanos,
    "decimal": _decimal_text,
    "timestamp": _timestamp_ms,
    "duration": _duration,
}


def _typename(cqltype: Any) -> str:
    from cassandra import cqltypes

    for cls, name in (
        (cqltypes.UserType, "udt"),
        (cqltypes.VectorType, "vector"),
        (cqltypes.FrozenType, "frozen"),
        (cqltypes.ReversedType, "reversed"),
    ):
        if issubclass(cqltype, cls):
            return name
    return str(cqltype.typename)


def _child(name: str, ctype: ColumnType, *, nullable: bool = True) -> pa.Field:
    """Nested fields carry their CQL type too, so text codecs know a decimal inside a UDT."""
    return pa.field(name, ctype.arrow, nullable=nullable, metadata={CQL_TYPE_KEY: ctype.cql.encode()})


def column_type(cqltype: Any) -> ColumnType:
    """The mapping rule for one driver type class (from prepared-statement metadata)."""
    name = _typename(cqltype)
    if name in _SIMPLE:
        return ColumnType(cqltype.cql_parameterized_type(), _SIMPLE[name], _SIMPLE_NORMALIZERS.get(name))
    if name in ("frozen", "reversed"):
        inner = column_type(cqltype.subtypes[0])
        frozen = name == "frozen" and not inner.cql.startswith("frozen<")
        return ColumnType(f"frozen<{inner.cql}>" if frozen else inner.cql, inner.arrow, inner.normalize)
    if name in ("list", "set"):
        elem = column_type(cqltype.subtypes[0])
        return ColumnType(f"{name}<{elem.cql}>", pa.list_(_child("item", elem)), _sequence(elem.normalize))
    if name == "map":
        key, value = column_type(cqltype.subtypes[0]), column_type(cqltype.subtypes[1])
        arrow = pa.map_(_child("key", key, nullable=False), _child("value", value))
        return ColumnType(f"map<{key.cql}, {value.cql}>", arrow, _mapping(key.normalize, value.normalize))
    if name == "tuple":
        parts = [column_type(s) for s in cqltype.subtypes]
        arrow = pa.struct([_child(f"f{i}", p) for i, p in enumerate(parts)])
        cql = f"tuple<{', '.join(p.cql for p in parts)}>"
        return ColumnType(cql, arrow, _struct([f"f{i}" for i in range(len(parts))], parts))
    if name == "udt":
        names = [str(n) for n in cqltype.fieldnames]
        parts = [column_type(s) for s in cqltype.subtypes]
        arrow = pa.struct([_child(n, p) for n, p in zip(names, parts, strict=True)])
        return ColumnType(str(cqltype.typename), arrow, _struct(names, parts))
    if name == "vector":
        elem = column_type(cqltype.subtype)
        return ColumnType(
            f"vector<{elem.cql}, {cqltype.vector_size}>",
            pa.list_(_child("item", elem), cqltype.vector_size),
            _sequence(elem.normalize),
        )
    raise UnsupportedType(f"no Arrow mapping for CQL type {cqltype.cql_parameterized_type()}")


def _sequence(elem: Normalizer | None) -> Normalizer:
    if elem is None:
        return list
    return lambda v: [None if x is None else elem(x) for x in v]


def _mapping(key: Normalizer | None, value: Normalizer | None) -> Normalizer:
    k = key or (lambda x: x)
    val = value or (lambda x: x)
    return lambda v: [(k(a), None if b is None else val(b)) for a, b in v.items()]


def _struct(names: Sequence[str], parts: Sequence[ColumnType]) -> Normalizer:
    normalizers = [p.normalize for p in parts]

    def convert(v: Any) -> dict[str, Any]:
        values = tuple(v)
        return {
            n: (None if i >= len(values) or values[i] is None else (f(values[i]) if f else values[i]))
            for i, (n, f) in enumerate(zip(names, normalizers, strict=True))
        }

    return convert


def arrow_field(name: str, ctype: ColumnType, *, nullable: bool = True) -> pa.Field:
    return pa.field(name, ctype.arrow, nullable=nullable, metadata={CQL_TYPE_KEY: ctype.cql.encode()})


def storage_type(t: pa.DataType) -> pa.DataType:
    """``t`` with every uuid extension replaced by its 16-byte storage, keeping field metadata.

    pyarrow cannot build a uuid nested in a list/map/struct from Python values; it can build the
    storage type and cast it, which is free (same buffers)."""
    if isinstance(t, pa.BaseExtensionType):
        return t.storage_type
    if pa.types.is_map(t):
        return pa.map_(_storage_field(t.key_field), _storage_field(t.item_field))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(_storage_field(t.value_field), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(_storage_field(t.value_field))
    if pa.types.is_struct(t):
        return pa.struct([_storage_field(f) for f in t])
    return t


def _storage_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, storage_type(f.type), nullable=f.nullable, metadata=f.metadata)


def to_arrow_array(values: Sequence[Any], ctype: ColumnType) -> pa.Array:
    """Convert one column of driver values; ``None`` stays null, never an empty value."""
    if ctype.normalize is not None:
        norm = ctype.normalize
        values = [None if v is None else norm(v) for v in values]
    if not _has_extension(ctype.arrow):
        return pa.array(values, type=ctype.arrow)
    return pa.array(values, type=storage_type(ctype.arrow)).cast(ctype.arrow)


def _has_extension(t: pa.DataType) -> bool:
    if isinstance(t, pa.BaseExtensionType):
        return True
    return any(_has_extension(t.field(i).type) for i in range(t.num_fields))


# -- Arrow → Iceberg ---------------------------------------------------------------------------
#
# Iceberg has fewer primitive types than Arrow; these are the only changes, all lossless:
#   int8, int16 (tinyint, smallint)  → int32 (Iceberg int)
#   time64[ns] (time)                → int64 nanoseconds since midnight: Iceberg's time is
#                                      microseconds, which would drop CQL's last 3 digits
#   timestamp[ms] (timestamp)        → timestamp[us, UTC] (Iceberg timestamptz)
#   fixed_size_list<T, n> (vector)   → list<T> (Iceberg has no fixed-size list; n is in the doc)
# Everything else (string, binary, uuid, date, decimal(38, 0), bool, float/double, list, map, struct)
# maps one to one. Each Iceberg field's doc holds the CQL type.


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


def to_iceberg_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """Cast a scan batch to :func:`iceberg_schema` types (cheap: widenings and unit changes)."""
    arrays = []
    for field in target:
        column = batch.column(batch.schema.get_field_index(field.name))
        if pa.types.is_time64(column.type):
            column = column.cast(pa.int64())
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=target)
