"""CSV and JSON-lines renderings of Arrow batches, column by column with ``pyarrow.compute``."""

from __future__ import annotations

import binascii
import functools
import json

import pyarrow as pa
import pyarrow.compute as pc

from .base import (
    ASCII,
    BLOB,
    BOOLEAN,
    DATE,
    DECIMAL,
    DOUBLE,
    DURATION,
    FLOAT,
    INET,
    INT,
    LIST,
    MAP,
    SET,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMEUUID,
    TUPLE,
    UDT,
    UUID,
    VARINT,
    VECTOR,
    CsvOptions,
    _binary_format,
)
from .columns import _JSON_NULL, _QUOTE, _STR, _as_string, _data_span, _join, _lit, _string_bytes, _with_nulls
from .nodes import _field_node, _Node
from .temporal import _date_col_text, _duration_col_text, _time_col_text, _timestamp_col_text
from .values import _HEX_RE

_CHUNK_ROWS = 65_536
"""Rows rendered per Arrow pass: bounds memory and keeps string offsets far below 2 GiB."""
_CHUNK_BYTES = 64 << 20


def _chunks(batch: pa.RecordBatch) -> list[pa.RecordBatch]:
    n = batch.num_rows
    rows = _CHUNK_ROWS
    size = batch.nbytes
    if size > _CHUNK_BYTES:
        rows = max(1, min(rows, n * _CHUNK_BYTES // size))
    if n <= rows:
        return [batch]
    return [batch.slice(start, rows) for start in range(0, n, rows)]


def _float_text(arr: pa.Array) -> pa.Array:
    text = pc.cast(arr, _STR)
    negative_zero = pc.equal(text, "-0")  # JSON reads "-0" as the integer 0; Java prints -0.0 too
    if pc.any(negative_zero).as_py():
        text = pc.if_else(negative_zero, _lit("-0.0"), text)
    if pc.any(pc.invert(pc.is_finite(arr))).as_py():
        text = pc.replace_substring(text, "nan", "NaN")
        text = pc.replace_substring(text, "inf", "Infinity")
    return text


def _blob_text(arr: pa.Array, binary_format: str) -> pa.Array:
    if not pa.types.is_binary(arr.type):
        arr = pc.cast(arr, pa.binary())
    if binary_format == "HEX":
        n = len(arr)
        offsets, start, data = _data_span(arr)
        hexed = data.hex().lower() if data is not None else b""
        new_offsets = pc.multiply(pc.subtract(offsets, pa.scalar(start, pa.int32())), pa.scalar(2, pa.int32()))
        text = pa.StringArray.from_buffers(n, new_offsets.buffers()[1], pa.py_buffer(hexed))
        return _with_nulls(_join(_lit("0x"), text), arr)
    b2a = binascii.b2a_base64
    values = arr.to_pylist()
    encoded = [None if v is None else b2a(v, newline=False) for v in values]
    # A BASE64 text that reads as 0x-hex would be loaded as hex (DSBulk's rule): such a blob is
    # rendered in hex instead, which every reader takes as the same bytes. One value in 4096 or so.
    for i, e in enumerate(encoded):
        if e is not None and e[:2] in (b"0x", b"0X") and _HEX_RE.match(e.decode()):
            encoded[i] = b"0x" + values[i].hex().encode()
    return pa.array(encoded, pa.binary()).cast(_STR)


def _uuid_text(arr: pa.Array) -> pa.Array:
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    n = len(storage)
    hexed = storage.buffers()[1].slice(storage.offset * 16, n * 16).hex().lower() if n else b""
    # Lay the 32 hex digits of every value into 36-byte slots with dashes, one strided copy per position.
    out = bytearray(b"-" * (36 * n))
    for digit in range(32):
        slot = digit + (digit >= 8) + (digit >= 12) + (digit >= 16) + (digit >= 20)
        out[slot::36] = hexed[digit::32]
    offsets = pa.array(range(0, 36 * n + 1, 36), pa.int32())
    text = pa.StringArray.from_buffers(n, offsets.buffers()[1], pa.py_buffer(bytes(out)))
    return _with_nulls(text, arr)


def _text(arr: pa.Array, node: _Node, binary_format: str, vector_sep: str = ", ") -> pa.Array:
    """One column as CSV-cell text (before quoting); nulls stay null."""
    kind = node.kind
    if kind in (TEXT, ASCII, INET, DECIMAL):
        return _as_string(arr)
    if kind in (INT, VARINT, BOOLEAN):
        return pc.cast(arr, _STR)
    if kind in (FLOAT, DOUBLE):
        return _float_text(arr)
    if kind == BLOB:
        return _blob_text(arr, binary_format)
    if kind in (UUID, TIMEUUID):
        return _uuid_text(arr)
    if kind == DATE:
        return _date_col_text(arr)
    if kind == TIME:
        return _time_col_text(arr)
    if kind == TIMESTAMP:
        return _timestamp_col_text(arr)
    if kind == DURATION:
        return _duration_col_text(arr)
    return _with_nulls(_json(arr, node, binary_format, vector_sep), arr)


# -- rendering: JSON fragments ---------------------------------------------------------------------

_JSON_ESCAPES = r'[\\"\x00-\x1f]'
_JSON_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"


def _json_string(text: pa.Array) -> pa.Array:
    """JSON string literals (Jackson's escapes: quote, backslash, control characters; UTF-8 as is)."""
    quoted = _join(_QUOTE, text, _QUOTE)
    needs = pc.match_substring_regex(text, _JSON_ESCAPES)
    if pc.any(needs).as_py():
        mask = pc.fill_null(needs, False)
        fixed = [json.dumps(v, ensure_ascii=False) for v in pc.filter(text, mask).to_pylist()]
        quoted = pc.replace_with_mask(quoted, mask, pa.array(fixed, _STR))
    return quoted


def _sliced_values(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(child values, offsets from 0) of the rows of a possibly sliced list or map array."""
    offsets = arr.offsets
    start, end = offsets[0].as_py(), offsets[len(arr)].as_py()
    if start:
        offsets = pc.subtract(offsets, pa.scalar(start, offsets.type))
    return arr.values.slice(start, end - start), offsets


def _join_lists(offsets: pa.Array, parts: pa.Array, sep: str, open_: str, close: str) -> pa.Array:
    joined = pc.binary_join(pa.ListArray.from_arrays(offsets, parts), _lit(sep))
    return _join(_lit(open_), joined, _lit(close))


def _json(arr: pa.Array, node: _Node, binary_format: str, vector_sep: str = ",") -> pa.Array:
    """One column as JSON values, never null (a null is the literal ``null``)."""
    kind = node.kind
    if kind in (TEXT, ASCII, INET):
        frag = _json_string(_as_string(arr))
    elif kind == DECIMAL:
        text = _as_string(arr)
        number = pc.match_substring_regex(text, _JSON_NUMBER)
        frag = text if pc.all(number).as_py() is not False else pc.if_else(number, text, _json_string(text))
    elif kind in (INT, VARINT, BOOLEAN):
        frag = pc.cast(arr, _STR)
    elif kind in (FLOAT, DOUBLE):
        text = _float_text(arr)
        finite = pc.is_finite(arr)
        frag = text if pc.all(finite).as_py() else pc.if_else(finite, text, _join(_QUOTE, text, _QUOTE))
    elif kind in (BLOB, UUID, TIMEUUID, DATE, TIME, TIMESTAMP, DURATION):
        frag = _join(_QUOTE, _text(arr, node, binary_format), _QUOTE)  # these texts need no escapes
    elif kind in (LIST, SET):
        values, offsets = _sliced_values(arr)
        frag = _join_lists(offsets, _json(values, node.children[0], binary_format), ",", "[", "]")
    elif kind == VECTOR:
        n, size = len(arr), node.size
        values = arr.values.slice(arr.offset * size, n * size)
        offsets = pa.array(range(0, n * size + 1, size), pa.int32())
        frag = _join_lists(offsets, _json(values, node.children[0], binary_format), vector_sep, "[", "]")
    elif kind == MAP:
        entries, offsets = _sliced_values(arr)
        key_node, item_node = node.children
        keys = _json_string(_text(entries.field(0), key_node, binary_format, ","))
        keys = pc.fill_null(keys, _lit('""'))
        items = _json(entries.field(1), item_node, binary_format)
        pairs = pc.binary_join_element_wise(keys, items, _lit(":"))
        frag = _join_lists(offsets, pairs, ",", "{", "}")
    elif kind == TUPLE:
        parts: list[pa.Array | pa.Scalar] = [_lit("[")]
        for i, child in enumerate(node.children):
            if i:
                parts.append(_lit(","))
            parts.append(_json(arr.field(i), child, binary_format))
        parts.append(_lit("]"))
        frag = _join(*parts)
    elif kind == UDT:
        parts = []
        for i, (name, child) in enumerate(zip(node.names, node.children, strict=True)):
            parts.append(_lit(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":"))
            parts.append(_json(arr.field(i), child, binary_format))
        parts.append(_lit("}" if parts else "{}"))
        frag = _join(*parts) if len(parts) > 1 else pa.array(["{}"] * len(arr), _STR)
    else:  # pragma: no cover - _build only makes the kinds above
        raise TypeError(f"no JSON rendering for {node.cql}")
    return pc.if_else(arr.is_valid(), frag, _JSON_NULL) if arr.null_count else frag


# -- rendering: public -----------------------------------------------------------------------------


def _re2_literal(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else f"\\x{{{ord(c):x}}}" for c in text)


@functools.lru_cache(maxsize=64)
def _quote_trigger(options: CsvOptions) -> str:
    # DSBulk (univocity) quotes the delimiter, quote and line breaks, and writes "" for an empty
    # string; blanks at either end and the escape character are quoted too, so no reader trims
    # or unescapes them; a text equal to the null string is quoted to stay a text.
    # A multi-character delimiter: any of its characters, or "|" + "||" would read as "||" + "|".
    chars = _re2_literal(options.quote + options.escape + (options.delimiter if len(options.delimiter) > 1 else ""))
    pattern = f"{_re2_literal(options.delimiter)}|[{chars}\\r\\n]|^[ \\t]|[ \\t]$|^$"
    if options.null_string:
        pattern += f"|^{_re2_literal(options.null_string)}$"
    return pattern


_DIGITS = "0123456789"
_ALPHABETS = {
    INT: _DIGITS + "-",
    VARINT: _DIGITS + "-+.E",
    FLOAT: _DIGITS + "-+.eNaInfity",
    DOUBLE: _DIGITS + "-+.eNaInfity",
    BOOLEAN: "truefals",
    UUID: _DIGITS + "abcdef-",
    TIMEUUID: _DIGITS + "abcdef-",
    DATE: _DIGITS + "-+",
    TIME: _DIGITS + ":.",
    TIMESTAMP: _DIGITS + "-+:.TZ",
    DURATION: _DIGITS + "-ymodhsun",
}
"""The characters each kind's text is made of; none of them is ever empty or blank-padded."""


@functools.lru_cache(maxsize=256)
def _never_quoted(options: CsvOptions, kind: str | None) -> bool:
    """True when no text of this kind can need quoting (saves a regex pass per column)."""
    alphabet = _ALPHABETS.get(kind or "")
    if alphabet is None:
        return False
    if any(c in alphabet for c in options.delimiter + options.quote + options.escape):
        return False
    return not options.null_string or any(c not in alphabet for c in options.null_string)


def _csv_cells(text: pa.Array, options: CsvOptions, kind: str | None = None) -> pa.Array:
    if _never_quoted(options, kind):
        return text
    needs = pc.match_substring_regex(text, _quote_trigger(options))
    if not pc.any(needs).as_py():
        return text
    q, esc = options.quote, options.escape
    body = text
    if esc == q:
        body = pc.replace_substring(body, q, q + q)
    else:
        body = pc.replace_substring(body, esc, esc + esc)
        body = pc.replace_substring(body, q, esc + q)
    return pc.if_else(needs, _join(_lit(q), body, _lit(q)), text)


def _csv_rows(cells: list[pa.Array], n: int, options: CsvOptions) -> bytes:
    if not cells:
        return options.newline.encode() * n
    rows = pc.binary_join_element_wise(
        *cells, _lit(options.delimiter), null_handling="replace", null_replacement=options.null_string
    )
    return _string_bytes(_join(rows, _lit(options.newline)))


def render_csv_header(schema: pa.Schema, options: CsvOptions) -> bytes:
    """The header line: column names in schema order, quoted by the same rules as values."""
    names = _csv_cells(pa.array(list(schema.names), _STR), options).to_pylist()
    return (options.delimiter.join(names) + options.newline).encode()


def render_csv(batch: pa.RecordBatch, options: CsvOptions) -> bytes:
    """The batch's rows as CSV (no header), UTF-8, each row ended by ``options.newline``."""
    if batch.num_rows == 0:
        return b""
    nodes = [_field_node(f) for f in batch.schema]
    out = []
    for piece in _chunks(batch):
        cells = [
            _csv_cells(_text(piece.column(i), node, options.binary_format), options, node.kind)
            for i, node in enumerate(nodes)
        ]
        out.append(_csv_rows(cells, piece.num_rows, options))
    return b"".join(out)


def render_jsonl(batch: pa.RecordBatch, binary_format: str = "BASE64") -> bytes:
    """One JSON object per row and line, keys = column names in schema order (DSBulk's JSON)."""
    fmt = _binary_format(binary_format)
    if batch.num_rows == 0:
        return b""
    if batch.num_columns == 0:
        return b"{}\n" * batch.num_rows
    nodes = [_field_node(f) for f in batch.schema]
    keys = [json.dumps(name, ensure_ascii=False) for name in batch.schema.names]
    out = []
    for piece in _chunks(batch):
        parts: list[pa.Array | pa.Scalar] = []
        for i, node in enumerate(nodes):
            parts.append(_lit(("{" if i == 0 else ",") + keys[i] + ":"))
            parts.append(_json(piece.column(i), node, fmt))
        parts.append(_lit("}\n"))
        out.append(_string_bytes(_join(*parts)))
    return b"".join(out)
