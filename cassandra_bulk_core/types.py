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
import pyarrow.compute as pc

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


# -- Arrow → Cassandra (loads) -----------------------------------------------------------------
#
# A load first brings every source column to the column's canonical Arrow type above (the type an
# export writes), then turns that into the values the driver serializes. Two steps, so each source
# (Parquet from any tool, Iceberg, text parsed by text_codecs) only has to reach one type per CQL
# type, and the driver side has one rule per type:
#
#   uuid, timeuuid    → uuid.UUID              date      → int (days + 2**31, the wire encoding)
#   timestamp[ms]     → int epoch ms (exact)   time      → int nanoseconds
#   decimal (string)  → decimal.Decimal        varint    → int
#   duration struct   → cassandra.util.Duration
#   list/set/vector   → list                   map       → pairs with .items() (keys may be lists)
#   tuple, UDT        → tuple in field order (the driver binds a UDT from a tuple, not a dict)
#
# Sources reach the canonical types by Arrow casts (an Iceberg int32 → tinyint with a range check,
# timestamp[us] → [ms] only when no microseconds are lost, list → fixed_size_list for vectors,
# 16-byte binary → uuid, string → uuid/decimal text); a value a cast refuses is reported per row.

_DATE_OFFSET = 2**31


class ConversionError(ValueError):
    """A source value that does not fit its column; ``rows`` maps row index → reason."""

    def __init__(self, rows: dict[int, str]):
        self.rows = rows
        first = next(iter(rows.items()))
        super().__init__(f"row {first[0]}: {first[1]}")


class _Pairs(list):  # type: ignore[type-arg]
    """Map entries for the driver's map serializer, which only needs ``.items()``; a dict cannot
    hold list (frozen collection) keys."""

    def items(self) -> Any:  # type: ignore[override]
        return self


def _field_cql(f: pa.Field) -> str:
    return (f.metadata or {}).get(CQL_TYPE_KEY, b"").decode() or str(f.type)


def _cast_value(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """One cast step that understands the canonical types' special cases."""
    if arr.type == target:
        return arr
    if isinstance(target, pa.BaseExtensionType):
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            import uuid as _uuid

            values = [None if v is None else _uuid.UUID(v).bytes for v in arr.to_pylist()]
            return pa.array(values, type=target.storage_type).cast(target)
        if isinstance(arr.type, pa.BaseExtensionType):
            arr = arr.storage  # e.g. pyiceberg's own uuid extension
        return pa.ExtensionArray.from_storage(target, arr.cast(target.storage_type))
    if isinstance(arr.type, pa.BaseExtensionType):
        arr = arr.storage
    if pa.types.is_time64(target) and pa.types.is_integer(arr.type):
        return arr.cast(pa.int64()).cast(target)  # Iceberg keeps CQL time as int64 nanoseconds
    if pa.types.is_string(target) and pa.types.is_decimal(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_struct(target) and pa.types.is_struct(arr.type):
        names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
        children = arr.flatten()
        out = []
        for i, child_field in enumerate(target):
            if child_field.name in names:
                child = children[names.index(child_field.name)]
            elif i < len(children):
                child = children[i]
            else:
                child = pa.nulls(len(arr))
            out.append(_cast_value(child, child_field.type))
        return pa.StructArray.from_arrays(out, fields=list(target), mask=arr.is_null())
    listy = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)
    if any(k(target) for k in listy) and any(k(arr.type) for k in listy):
        if not pa.types.is_list(arr.type):
            arr = arr.cast(pa.list_(arr.type.value_field))
        offsets, child = _offsets(arr)
        values = _cast_value(child, target.value_type)
        if pa.types.is_fixed_size_list(target):
            lengths = pc.subtract(offsets.slice(1), offsets.slice(0, len(arr)))
            if pc.any(pc.and_(pc.not_equal(lengths, target.list_size), arr.is_valid())).as_py():
                raise pa.ArrowInvalid(f"a vector needs exactly {target.list_size} elements")
            values = _fill_nulls_to_size(arr, values, target.list_size)
            return pa.FixedSizeListArray.from_arrays(values, type=target, mask=arr.is_null())
        return pa.ListArray.from_arrays(offsets, values, type=target, mask=arr.is_null())
    if pa.types.is_map(target) and pa.types.is_map(arr.type):
        offsets, entries = _offsets(arr)
        keys, items = entries.flatten()
        return pa.MapArray.from_arrays(
            offsets,
            _cast_value(keys, target.key_type),
            _cast_value(items, target.item_type),
            type=target,
            mask=arr.is_null(),
        )
    return arr.cast(target)


def _offsets(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Zero-based offsets and the child values of a (possibly sliced) list or map array."""
    offsets = arr.offsets
    first = offsets[0].as_py() if len(offsets) else 0
    last = offsets[-1].as_py() if len(offsets) else 0
    return pc.subtract(offsets, first).cast(pa.int32()), arr.values.slice(first, last - first)


def _fill_nulls_to_size(arr: pa.Array, values: pa.Array, size: int) -> pa.Array:
    """Null vectors have no elements in a variable list; a fixed-size list needs ``size`` of them."""
    if arr.null_count == 0:
        return values
    out: list[pa.Array] = []
    pos = 0
    for valid in arr.is_valid().to_pylist():
        if valid:
            out.append(values.slice(pos, size))
            pos += size
        else:
            out.append(pa.nulls(size, values.type))
    return pa.concat_arrays(out) if out else values


def conform_column(arr: pa.Array | pa.ChunkedArray, field: pa.Field) -> tuple[pa.Array, dict[int, str]]:
    """The source column as ``field``'s canonical type, plus the rows whose value does not fit.

    Rows that fail are null in the result and listed with a reason naming the value and the
    expected CQL type; the caller rejects them. A whole-column cast is tried first; only when it
    fails is the column cast value by value to find the culprits (rare, so the slow path is fine).
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type == field.type:
        return arr, {}
    try:
        return _cast_value(arr, field.type), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError, OverflowError):
        pass
    cql = _field_cql(field)
    good: list[pa.Array] = []
    errors: dict[int, str] = {}
    for i in range(len(arr)):
        one = arr.slice(i, 1)
        try:
            good.append(_cast_value(one, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError, OverflowError) as exc:
            value = one.to_pylist()[0]
            text = repr(value)
            text = text if len(text) <= 80 else text[:60] + "..."
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            errors[i] = f"cannot convert {text} ({arr.type}) to {cql}: {reason}"
            good.append(
                pa.nulls(1, field.type) if not isinstance(field.type, pa.BaseExtensionType) else _null_ext(field)
            )
    return pa.concat_arrays(good), errors


def _null_ext(field: pa.Field) -> pa.Array:
    return pa.ExtensionArray.from_storage(field.type, pa.nulls(1, field.type.storage_type))


def driver_values(arr: pa.Array, field: pa.Field) -> list[Any]:
    """Python values the driver serializes for the column (``arr`` has the canonical type)."""
    return _py(arr, field)


def _py(arr: pa.Array, f: pa.Field) -> list[Any]:
    t = f.type
    if isinstance(t, pa.BaseExtensionType):
        import uuid as _uuid

        return [None if b is None else _uuid.UUID(bytes=b) for b in arr.storage.to_pylist()]
    if pa.types.is_timestamp(t) or pa.types.is_time64(t):
        return arr.cast(pa.int64()).to_pylist()
    if pa.types.is_date32(t):
        return [None if d is None else d + _DATE_OFFSET for d in arr.cast(pa.int32()).to_pylist()]
    if pa.types.is_decimal(t):
        return [None if d is None else int(d) for d in arr.to_pylist()]
    if t == DURATION_TYPE:
        from cassandra.util import Duration

        return [None if d is None else Duration(d["months"], d["days"], d["nanoseconds"]) for d in arr.to_pylist()]
    if pa.types.is_string(t) and _field_cql(f) == "decimal":
        import decimal as _decimal

        return [None if d is None else _decimal.Decimal(d) for d in arr.to_pylist()]
    if pa.types.is_map(t):
        lengths, entries = _list_parts(arr)
        keys, items = entries.flatten()
        kv = list(zip(_py(keys, t.key_field), _py(items, t.item_field), strict=True))
        return _regroup(lengths, kv, _Pairs)
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        lengths, values = _list_parts(arr)
        return _regroup(lengths, _py(values, t.value_field), list)
    if pa.types.is_struct(t):
        children = [_py(c, t.field(i)) for i, c in enumerate(arr.flatten())]
        valid = arr.is_valid().to_pylist()
        return [tuple(c[i] for c in children) if valid[i] else None for i in range(len(arr))]
    return arr.to_pylist()


def _list_parts(arr: pa.Array) -> tuple[list[int | None], pa.Array]:
    """Per-row lengths (None for null) and the child values a list or map array covers.

    Offsets, not ``flatten()``: map arrays have no flatten kernel, and offsets respect slicing."""
    valid = arr.is_valid().to_pylist()
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        values = arr.values.slice(arr.offset * size, len(arr) * size)
        return [size if v else -size for v in valid], values  # a null vector still holds its slots
    offsets = arr.offsets.to_pylist()
    values = arr.values.slice(offsets[0], offsets[-1] - offsets[0]) if offsets else arr.values.slice(0, 0)
    return [b - a if v else None for a, b, v in zip(offsets, offsets[1:], valid, strict=False)], values


def _regroup(lengths: list[int | None], values: list[Any], make: Callable[[list[Any]], Any]) -> list[Any]:
    out: list[Any] = []
    pos = 0
    for n in lengths:
        if n is None:
            out.append(None)
        elif n < 0:
            out.append(None)
            pos -= n
        else:
            out.append(make(values[pos : pos + n]))
            pos += n
    return out
