"""Arrow columns straight to CQL wire bytes, for the load's hot path.

The driver serializes one Python value at a time, after the value was made a Python object (a
``uuid.UUID`` only to be turned back into its 16 bytes). For the types most tables are made of,
the canonical Arrow column (see ``types``) already holds the wire value or a number that
``struct`` packs in one C call, so this module goes from the column to the bytes directly:

==========================  =================================================
canonical Arrow type        CQL wire value
==========================  =================================================
uuid (fixed 16 bytes)       the 16 bytes as they are
string (text, ascii)        the UTF-8 bytes (a binary view of the same buffer)
binary (blob)               the bytes
int8/16/32/64, bool         big-endian two's complement / one byte
float32/64                  IEEE 754 big-endian
timestamp[ms]               int64 milliseconds
date32                      uint32 days + 2**31
time64[ns]                  int64 nanoseconds
==========================  =================================================

Everything else (decimal, varint, inet, duration, collections, tuples, UDTs, vectors) goes
through :func:`types.driver_values` and the driver's serializer for that column's type.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from .types import CQL_TYPE_KEY, driver_values

_STRUCTS: dict[str, Callable[[Any], bytes]] = {
    "tinyint": struct.Struct(">b").pack,
    "smallint": struct.Struct(">h").pack,
    "int": struct.Struct(">i").pack,
    "bigint": struct.Struct(">q").pack,
    "counter": struct.Struct(">q").pack,
    "float": struct.Struct(">f").pack,
    "double": struct.Struct(">d").pack,
    "timestamp": struct.Struct(">q").pack,
    "time": struct.Struct(">q").pack,
    "date": struct.Struct(">I").pack,
}
_BYTES = ("text", "varchar", "ascii", "blob", "uuid", "timeuuid")
_TRUE, _FALSE = b"\x01", b"\x00"


def _cql(field: pa.Field) -> str:
    return (field.metadata or {}).get(CQL_TYPE_KEY, b"").decode()


def serialize_column(
    arr: pa.Array, field: pa.Field, cqltype: Any, protocol_version: int, null: Any
) -> tuple[list[Any], dict[int, str]]:
    """The column's values as wire bytes (``null`` where the value is null), and the rows whose
    value the driver refused (index → reason); those rows are rejected by the caller."""
    cql = _cql(field)
    if cql in _BYTES or cql.startswith("'"):  # a custom type travels as the bytes it was exported as
        if isinstance(arr.type, pa.BaseExtensionType):
            arr = arr.storage
        if pa.types.is_string(arr.type):
            arr = arr.cast(pa.binary())  # same buffers, now read as bytes: no decode/encode
        return [null if v is None else v for v in arr.to_pylist()], {}
    pack = _STRUCTS.get(cql)
    if pack is not None:
        if cql == "timestamp" or cql == "time":
            values = arr.cast(pa.int64()).to_pylist()
        elif cql == "date":
            values = [None if d is None else d + 2**31 for d in arr.cast(pa.int32()).to_pylist()]
        else:
            values = arr.to_pylist()
        return [null if v is None else pack(v) for v in values], {}
    if cql == "boolean":
        return [null if v is None else (_TRUE if v else _FALSE) for v in arr.to_pylist()], {}
    values = driver_values(arr, field)
    ser = cqltype.serialize
    try:
        return [null if v is None else ser(v, protocol_version) for v in values], {}
    except Exception:
        out: list[Any] = []
        bad: dict[int, str] = {}
        for r, v in enumerate(values):
            try:
                out.append(null if v is None else ser(v, protocol_version))
            except Exception as exc:
                out.append(null)
                bad[r] = f"cannot serialize {v!r} as {cqltype.cql_parameterized_type()}: {exc}"
        return out, bad
