"""JSON values and JSON documents back into typed Arrow."""

from __future__ import annotations

import decimal
import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .base import TextCodecError, _binary_format, _ParseOpts
from .nodes import _field_node
from .values import _parse_json


def _has_extension(t: pa.DataType) -> bool:
    if isinstance(t, pa.BaseExtensionType):
        return True
    return any(_has_extension(t.field(i).type) for i in range(t.num_fields))


def _storage_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, _storage_type(f.type), f.nullable, f.metadata)


def _storage_type(t: pa.DataType) -> pa.DataType:
    """``t`` with extension types replaced by their storage (``pa.array`` cannot build them nested)."""
    if not _has_extension(t):
        return t
    if isinstance(t, pa.BaseExtensionType):
        return t.storage_type
    if pa.types.is_map(t):
        return pa.map_(_storage_field(t.key_field), _storage_field(t.item_field), t.keys_sorted)
    if pa.types.is_fixed_size_list(t):
        return pa.list_(_storage_field(t.value_field), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(_storage_field(t.value_field))
    if pa.types.is_large_list(t):
        return pa.large_list(_storage_field(t.value_field))
    if pa.types.is_struct(t):
        return pa.struct([_storage_field(t.field(i)) for i in range(t.num_fields)])
    raise TypeError(f"cannot build Arrow values of type {t}")


def to_arrow_column(values: Sequence[Any], field: pa.Field) -> pa.Array:
    """Build the field's column from values returned by :func:`parse_json_value`.

    Use this instead of ``pa.array(values, type=field.type)``: pyarrow cannot build a uuid
    (extension type) nested in a list, map or struct from Python values, so those are built on
    the storage type and cast.
    """
    storage = _storage_type(field.type)
    try:
        arr = pa.array(values, type=storage)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as exc:
        node = _field_node(field)
        raise TextCodecError(f"<column {field.name}>", node.cql, f"not representable as Arrow: {exc}") from None
    return arr if storage == field.type else arr.cast(field.type)


def parse_json_value(
    value: Any, field: pa.Field, *, binary_format: str = "BASE64", allow_precision_loss: bool = False
) -> Any:
    """One JSON value (as ``json.loads`` returns it) as a Python value for the field's Arrow type.

    Load JSON with ``parse_float=decimal.Decimal`` so decimals and floats keep their exact digits.
    Strings are read with the CSV rules (a timestamp is its ISO text, a blob its BASE64 or hex),
    so ``"123"`` is also accepted for an int. Build the column with :func:`to_arrow_column`.
    """
    return _parse_json(value, _field_node(field), _ParseOpts(_binary_format(binary_format), allow_precision_loss))


def read_jsonl(source: Any, schema: pa.Schema, binary_format: str = "BASE64") -> pa.Table:
    """JSON Lines written by :func:`render_jsonl` (or DSBulk's json connector) as a typed table.

    ``source`` is the file's bytes, a binary file-like object (a ``pyarrow.NativeFile``, a file
    opened ``"rb"``) or an iterable of ``bytes`` lines. Records are split on ``b"\\n"`` only:
    ``str.splitlines()`` would also split at U+2028, U+2029 or U+0085, which JSON strings hold
    unescaped. Floats are read as ``Decimal`` so decimals and varints keep every digit."""
    fmt = _binary_format(binary_format)
    if hasattr(source, "read"):
        source = source.read()
    if isinstance(source, str):
        raise TypeError("read_jsonl takes bytes, a binary file or bytes lines, not str")
    lines = bytes(source).split(b"\n") if isinstance(source, (bytes, bytearray, memoryview)) else source
    docs = []
    for line in lines:
        if not isinstance(line, (bytes, bytearray)):
            raise TypeError(f"read_jsonl takes bytes lines, not {type(line).__name__}")
        if line.strip():
            docs.append(json.loads(line, parse_float=decimal.Decimal))
    columns = []
    for f in schema:
        values = [parse_json_value(d.get(f.name), f, binary_format=fmt) for d in docs]
        columns.append(to_arrow_column(values, f))
    return pa.table(columns, schema=schema)
