"""Arrow values as the same plain Python that ``alltypes.plain`` makes of driver values."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import pyarrow as pa


def column_plain(array: pa.Array | pa.ChunkedArray, cql_type: str) -> list[Any]:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return _plain(array, cql_type)


def _plain(arr: pa.Array, cql: str) -> list[Any]:
    t = arr.type
    valid = arr.is_valid().to_pylist()
    if pa.types.is_date32(t):
        vals = [("date", v) for v in arr.cast(pa.int32()).to_pylist()]
    elif pa.types.is_timestamp(t):
        per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[t.unit]
        vals = [("ts", None if v is None else v // per_ms) for v in arr.cast(pa.int64()).to_pylist()]
    elif cql == "time" and pa.types.is_integer(t):  # Iceberg keeps CQL time as int64 nanoseconds
        vals = [("time", v) for v in arr.to_pylist()]
    elif pa.types.is_fixed_size_binary(t) and t.byte_width == 16 and cql in ("uuid", "timeuuid"):
        vals = [None if b is None else str(uuid.UUID(bytes=b)) for b in arr.to_pylist()]
    elif pa.types.is_time64(t):
        vals = [("time", v) for v in arr.cast(pa.int64()).to_pylist()]
    elif isinstance(t, pa.ExtensionType) or str(t) == "extension<arrow.uuid>":
        vals = [None if b is None else str(uuid.UUID(bytes=b)) for b in arr.storage.to_pylist()]
    elif pa.types.is_decimal(t):
        vals = [None if v is None else int(v) for v in arr.to_pylist()]
    elif pa.types.is_floating(t):
        vals = [("nan",) if v is not None and math.isnan(v) else v for v in arr.to_pylist()]
    elif (pa.types.is_string(t) or pa.types.is_large_string(t)) and cql == "varint":
        vals = [None if v is None else int(v) for v in arr.to_pylist()]  # varint: unbounded digits
    elif (pa.types.is_string(t) or pa.types.is_large_string(t)) and cql == "decimal":
        vals = [("dec", v) for v in arr.to_pylist()]
    elif pa.types.is_struct(t) and [f.name for f in t] == ["months", "days", "nanoseconds"]:
        vals = [None if v is None else ("dur", v["months"], v["days"], v["nanoseconds"]) for v in arr.to_pylist()]
    elif pa.types.is_struct(t):
        names = [f.name for f in t]
        children = {n: _plain(arr.field(n), "") for n in names}
        is_tuple = all(re.fullmatch(r"f\d+", n) for n in names)
        vals = [
            [children[n][i] for n in names] if is_tuple else {n: children[n][i] for n in names} for i in range(len(arr))
        ]
    elif pa.types.is_map(t):
        keys, items = _plain(arr.keys, ""), _plain(arr.items, "")
        offsets = arr.offsets.to_pylist()
        vals = [
            sorted(zip(keys[offsets[i] : offsets[i + 1]], items[offsets[i] : offsets[i + 1]], strict=True))
            for i in range(len(arr))
        ]
    elif pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
        flat = _plain(arr.flatten(), "")
        if pa.types.is_fixed_size_list(t):
            n = t.list_size
            starts = [0]
            for i in range(len(arr)):
                starts.append(starts[-1] + (n if valid[i] else 0))
            vals = [flat[starts[i] : starts[i + 1]] for i in range(len(arr))]
        else:
            offsets = arr.offsets.to_pylist()
            base = offsets[0]
            vals = [flat[offsets[i] - base : offsets[i + 1] - base] for i in range(len(arr))]
    else:
        vals = arr.to_pylist()
    return [v if ok else None for v, ok in zip(vals, valid, strict=True)]
