"""Arrow → Cassandra for loads: source columns to the canonical types, then to driver values.

A load first brings every source column to the column's canonical Arrow type above (the type an
export writes), then turns that into the values the driver serializes. Two steps, so each source
(Parquet from any tool, Iceberg, text parsed by text_codecs) only has to reach one type per CQL
type, and the driver side has one rule per type:

  uuid, timeuuid    → uuid.UUID              date      → int (days + 2**31, the wire encoding)
  timestamp[ms]     → int epoch ms (exact)   time      → int nanoseconds
  decimal (string)  → decimal.Decimal        varint    → int
  duration struct   → cassandra.util.Duration
  list/set/vector   → list                   map       → pairs with .items() (keys may be lists)
  tuple, UDT        → tuple in field order (the driver binds a UDT from a tuple, not a dict)

Sources reach the canonical types by Arrow casts (an Iceberg int32 → tinyint with a range check,
timestamp[us] → [ms] only when no microseconds are lost, list → fixed_size_list for vectors,
16-byte binary → uuid, string → uuid/decimal text); a value a cast refuses is reported per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .arrow import CQL_TYPE_KEY, DURATION_TYPE, _Pairs

_DATE_OFFSET = 2**31


class ConversionError(ValueError):
    """A source value that does not fit its column; ``rows`` maps row index → reason."""

    def __init__(self, rows: dict[int, str]):
        self.rows = rows
        first = next(iter(rows.items()))
        super().__init__(f"row {first[0]}: {first[1]}")


def _field_cql(f: pa.Field) -> str:
    return (f.metadata or {}).get(CQL_TYPE_KEY, b"").decode() or str(f.type)


_LISTY = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)


def _cast_value(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """One cast step that understands the canonical types' special cases."""
    if arr.type == target:
        return arr
    if isinstance(target, pa.BaseExtensionType):
        return _to_extension(arr, target)
    if isinstance(arr.type, pa.BaseExtensionType):
        arr = arr.storage
    if pa.types.is_time64(target) and pa.types.is_integer(arr.type):
        return arr.cast(pa.int64()).cast(target)  # Iceberg keeps CQL time as int64 nanoseconds
    if pa.types.is_string(target) and pa.types.is_decimal(arr.type):
        return arr.cast(pa.string())
    if pa.types.is_struct(target) and pa.types.is_struct(arr.type):
        return _to_struct(arr, target)
    if any(k(target) for k in _LISTY) and any(k(arr.type) for k in _LISTY):
        return _to_list(arr, target)
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


def _to_extension(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """To the uuid extension: from its text, from another uuid extension, or from 16 bytes."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        import uuid as _uuid

        values = [None if v is None else _uuid.UUID(v).bytes for v in arr.to_pylist()]
        return pa.array(values, type=target.storage_type).cast(target)
    if isinstance(arr.type, pa.BaseExtensionType):
        arr = arr.storage  # e.g. pyiceberg's own uuid extension
    return pa.ExtensionArray.from_storage(target, arr.cast(target.storage_type))


def _to_struct(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Fields matched by name, else by position (a tuple written by another tool), else null."""
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


def _to_list(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Between list kinds; a vector (fixed-size list) needs exactly its dimension per value."""
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
        return arr, _bad_numerals(arr, field)
    try:
        out = _cast_value(arr, field.type)
        return out, _bad_numerals(out, field)
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


_NUMERALS = {
    "varint": r"^[+-]?[0-9]+$",
    "decimal": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$",
}


def _bad_numerals(arr: pa.Array, field: pa.Field) -> dict[int, str]:
    """Rows of a varint/decimal column (carried as text) whose text is not such a number.

    One vectorised regex per column; the driver would otherwise fail the whole chunk on it."""
    cql = _field_cql(field)
    pattern = _NUMERALS.get(cql)
    if pattern is None or not pa.types.is_string(arr.type) or arr.null_count == len(arr):
        return {}
    ok = pc.match_substring_regex(arr, pattern)
    bad = pc.and_(arr.is_valid(), pc.invert(pc.fill_null(ok, True)))
    if not pc.any(bad).as_py():
        return {}
    values = arr.to_pylist()
    return {i: f"cannot convert {values[i]!r} to {cql}: not a number" for i, b in enumerate(bad.to_pylist()) if b}


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
    if pa.types.is_string(t) and _field_cql(f) == "varint":
        return [None if d is None else int(d) for d in arr.to_pylist()]
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
