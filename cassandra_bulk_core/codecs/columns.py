"""Arrow string-array helpers shared by the renderers."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_STR = pa.string()
_EMPTY = pa.scalar("", _STR)
_NULL_STR = pa.scalar(None, _STR)
_QUOTE = pa.scalar('"', _STR)
_JSON_NULL = pa.scalar("null", _STR)


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, _STR)


def _join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Concatenate element-wise; any null part makes the row null."""
    return pc.binary_join_element_wise(*parts, _EMPTY)


def _as_string(arr: pa.Array) -> pa.Array:
    return arr if arr.type == _STR else pc.cast(arr, _STR)


def _with_nulls(text: pa.Array, arr: pa.Array) -> pa.Array:
    """Null where ``arr`` is null (nested renderings are computed for every slot)."""
    if arr.null_count == 0:
        return text
    return pc.if_else(arr.is_valid(), text, _NULL_STR)


def _patch(text: pa.Array, mask: pa.Array, source: pa.Array, render: Any) -> pa.Array:
    """Replace the masked slots of ``text`` with ``render(value)`` computed in Python (rare cases)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return text
    values = pc.filter(source, mask).to_pylist()
    return pc.replace_with_mask(text, mask, pa.array([render(v) for v in values], _STR))


def _value_offsets(arr: pa.Array) -> pa.Array:
    """The int32 value offsets of a (possibly sliced) string or binary array."""
    return pa.Array.from_buffers(pa.int32(), len(arr) + 1, [None, arr.buffers()[1]], offset=arr.offset)


def _data_span(arr: pa.Array) -> tuple[pa.Array, int, pa.Buffer | None]:
    """(offsets, first offset, data bytes of the rows) of a string or binary array."""
    offsets = _value_offsets(arr)
    start, end = offsets[0].as_py(), offsets[len(arr)].as_py()
    data = arr.buffers()[2]
    return offsets, start, data.slice(start, end - start) if data is not None and end > start else None


def _string_bytes(arr: pa.Array) -> bytes:
    """The concatenated UTF-8 of a string array without nulls, straight from its data buffer."""
    data = _data_span(arr)[2]
    return data.to_pybytes() if data is not None else b""
