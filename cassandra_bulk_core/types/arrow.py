"""CQL ⇄ Arrow type mapping: one rule per CQL type, in one place.

Every rule says what a driver value becomes in Arrow and why. Lossless unless stated:

=================  ==========================================  ===================================
CQL                Arrow                                       note
=================  ==========================================  ===================================
ascii, text        string
tinyint..bigint    int8, int16, int32, int64
counter            int64
varint             string (decimal digits)                     a CQL varint is unbounded; no Arrow
                                                               or Iceberg decimal holds every value
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
custom ('org...')  binary (the cell's bytes)                   no CQL syntax to interpret; moved
                                                               exactly and loaded back as bytes
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

from .tree import (
    CqlType,
    CqlTypeVisitor,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UserType,
    VectorType,
    from_driver,
    visit,
)

Normalizer = Callable[[Any], Any]
"""Turns a driver value (never None) into something ``pyarrow.array`` accepts for the type."""

_EPOCH_DATE = dt.date(1970, 1, 1)

DURATION_TYPE = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("nanoseconds", pa.int64())])

CQL_TYPE_KEY = b"cql_type"


class UnsupportedType(TypeError):
    pass


@dataclass(frozen=True)
class ColumnType:
    """A CQL type with its Arrow type and the per-value normalizer (None: values pass as they are).

    ``tree`` is the typed node it was built from; ``may_be_empty`` says the decoder can hand back
    ``EMPTY`` (a zero-length value of a fixed-width type) for a top-level value."""

    cql: str
    arrow: pa.DataType
    normalize: Normalizer | None = None
    tree: Any = None
    may_be_empty: bool = False


_SIMPLE: dict[str, pa.DataType] = {
    "ascii": pa.string(),
    "text": pa.string(),
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
    "varint": pa.string(),
    "decimal": pa.string(),
    "uuid": pa.uuid(),
    "timeuuid": pa.uuid(),
    "duration": DURATION_TYPE,
}
_HAS_EMPTY_FORM = frozenset({"ascii", "text", "blob"})


def _date_days(v: Any) -> int:
    # The driver returns datetime.date inside Python's range and util.Date outside it.
    if isinstance(v, int):
        return v
    if isinstance(v, dt.date):
        return (v - _EPOCH_DATE).days
    return int(v.days_from_epoch)


def _time_nanos(v: Any) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, dt.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000_000 + v.microsecond * 1000
    return int(v.nanosecond_time)


_EPOCH = dt.datetime(1970, 1, 1)


def _timestamp_ms(v: Any) -> int:
    """Epoch milliseconds, rounded: the driver builds datetimes through a float of seconds, which
    is off by up to tens of microseconds for far dates (...59.999 arrives as ...59.998993); the
    nearest millisecond is the exact stored value. Ints (exact decoding) pass through."""
    if isinstance(v, int):
        return v
    naive = v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v.tzinfo is not None else v
    delta = naive - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + (delta.microseconds + 500) // 1000


def _text(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


def _duration(v: Any) -> dict[str, int]:
    return {"months": v.months, "days": v.days, "nanoseconds": v.nanoseconds}


def _uuid_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else bytes(v.bytes)


def _custom_bytes(v: Any) -> bytes:
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v)
    raise UnsupportedType(f"a custom type value arrived decoded ({type(v).__name__}); expected its bytes")


# Normalizers for values as the driver's own classes decode them (datetime, Decimal, UUID, ...).
_DRIVER_NORMALIZERS: dict[str, Normalizer] = {
    "uuid": _uuid_bytes,
    "timeuuid": _uuid_bytes,
    "date": _date_days,
    "time": _time_nanos,
    "decimal": _text,
    "varint": _text,
    "timestamp": _timestamp_ms,
    "duration": _duration,
}
# With the exact decoders of types/decode.py only durations need a Python step.
_EXACT_NORMALIZERS: dict[str, Normalizer] = {"duration": _duration}


def _child(name: str, ctype: ColumnType, *, nullable: bool = True) -> pa.Field:
    """Nested fields carry their CQL type too, so text codecs know a decimal inside a UDT."""
    return pa.field(name, ctype.arrow, nullable=nullable, metadata={CQL_TYPE_KEY: ctype.cql.encode()})


class ArrowVisitor(CqlTypeVisitor[ColumnType]):
    """CQL type tree → :class:`ColumnType` (see the table in the module docstring).

    :param exact: values come from :mod:`.decode`'s exact decoders (ints for temporal types, bytes
        for uuids, strings for decimal/varint) rather than from the driver's default classes."""

    def __init__(self, exact: bool = False):
        self.normalizers = _EXACT_NORMALIZERS if exact else _DRIVER_NORMALIZERS

    def native(self, t: NativeType) -> ColumnType:
        empty = t.name not in _HAS_EMPTY_FORM
        return ColumnType(t.cql, _SIMPLE[t.name], self.normalizers.get(t.name), t, empty)

    def list(self, t: ListType, element: ColumnType) -> ColumnType:
        return ColumnType(t.cql, pa.list_(_child("item", element)), _sequence(element.normalize), t)

    def set(self, t: SetType, element: ColumnType) -> ColumnType:
        return ColumnType(t.cql, pa.list_(_child("item", element)), _sequence(element.normalize), t)

    def map(self, t: MapType, key: ColumnType, value: ColumnType) -> ColumnType:
        arrow = pa.map_(_child("key", key, nullable=False), _child("value", value))
        return ColumnType(t.cql, arrow, _mapping(key.normalize, value.normalize), t)

    def tuple(self, t: TupleType, elements: Sequence[ColumnType]) -> ColumnType:
        names = [f"f{i}" for i in range(len(elements))]
        arrow = pa.struct([_child(n, p) for n, p in zip(names, elements, strict=True)])
        return ColumnType(t.cql, arrow, _struct(names, elements), t)

    def udt(self, t: UserType, fields: Sequence[ColumnType]) -> ColumnType:
        arrow = pa.struct([_child(n, p) for n, p in zip(t.field_names, fields, strict=True)])
        return ColumnType(t.cql, arrow, _struct(t.field_names, fields), t)

    def vector(self, t: VectorType, element: ColumnType) -> ColumnType:
        arrow = pa.list_(_child("item", element), t.dimension)
        return ColumnType(t.cql, arrow, _sequence(element.normalize), t)

    def custom(self, t: CustomType) -> ColumnType:
        return ColumnType(t.cql, pa.binary(), _custom_bytes, t)


def column_type_of(t: CqlType, *, exact: bool = False) -> ColumnType:
    """The mapping rule for one node of the CQL type tree (see :class:`ArrowVisitor`)."""
    return visit(t, ArrowVisitor(exact))


def column_type(cqltype: Any) -> ColumnType:
    """The mapping rule for one driver type class (from prepared-statement metadata), for values
    as the driver's default classes decode them."""
    return column_type_of(from_driver(cqltype))


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
    return arrow_column(values, ctype)[0]


def arrow_column(values: Sequence[Any], ctype: ColumnType) -> tuple[pa.Array, int]:
    """One column of decoded values as Arrow, and how many EMPTY values became null.

    EMPTY (a zero-length int, timestamp, uuid, ...) has no Arrow form, so it is exported as null
    and *counted*, for the scan to report; it is never silently folded into null. Top-level EMPTY
    values are found with one C-speed ``count``; nested ones (in a collection, tuple or UDT:
    exotic) only when the normal conversion fails on them."""
    empty = _empty()
    empties = 0
    if ctype.may_be_empty:
        empties = values.count(empty) if hasattr(values, "count") else sum(v is empty for v in values)
        if empties:
            values = [None if v is empty else v for v in values]
    try:
        return _convert(values, ctype), empties
    except Exception:
        scrubbed, nested = _scrub_empty(list(values), empty)
        if not nested:
            raise
        return _convert(scrubbed, ctype), empties + nested


def _convert(values: Sequence[Any], ctype: ColumnType) -> pa.Array:
    if ctype.normalize is not None:
        norm = ctype.normalize
        values = [None if v is None else norm(v) for v in values]
    if not _has_extension(ctype.arrow):
        return pa.array(values, type=ctype.arrow)
    return pa.array(values, type=storage_type(ctype.arrow)).cast(ctype.arrow)


_EMPTY: Any = None


def _empty() -> Any:
    global _EMPTY
    if _EMPTY is None:
        from cassandra.cqltypes import EMPTY

        _EMPTY = EMPTY
    return _EMPTY


class _Pairs(list):  # type: ignore[type-arg]
    """Map entries for the driver's map serializer, which only needs ``.items()``; a dict cannot
    hold list (frozen collection) keys."""

    def items(self) -> Any:  # type: ignore[override]
        return self


def _scrub_empty(value: Any, empty: Any) -> tuple[Any, int]:
    """``value`` with every nested EMPTY replaced by None, and how many there were."""
    if value is empty:
        return None, 1
    if isinstance(value, str | bytes | bytearray) or value is None:
        return value, 0
    if hasattr(value, "items"):
        pairs, count = [], 0
        for k, v in value.items():
            (k2, n1), (v2, n2) = _scrub_empty(k, empty), _scrub_empty(v, empty)
            pairs.append((k2, v2))
            count += n1 + n2
        return _Pairs(pairs), count
    if isinstance(value, list | tuple) or (hasattr(value, "__iter__") and not isinstance(value, dict)):
        out, count = [], 0
        for v in value:
            v2, n = _scrub_empty(v, empty)
            out.append(v2)
            count += n
        return (tuple(out) if isinstance(value, tuple) else out), count
    return value, 0


def _has_extension(t: pa.DataType) -> bool:
    if isinstance(t, pa.BaseExtensionType):
        return True
    return any(_has_extension(t.field(i).type) for i in range(t.num_fields))
