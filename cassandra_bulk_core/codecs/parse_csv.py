"""CSV cell texts back into typed Arrow: a vectorized path for the common flat types, per value
for the rest, and every failing row reported in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .base import (
    ASCII,
    BOOLEAN,
    DATE,
    DOUBLE,
    FLOAT,
    INT,
    TEXT,
    TIMESTAMP,
    VARINT,
    CsvOptions,
    TextCodecError,
    _ParseOpts,
)
from .csv_lines import rewritten_bytes
from .nodes import _field_node, _Node
from .numbers import _precise
from .parse_json import to_arrow_column
from .values import _parse_text

_FAST_KINDS = (INT, FLOAT, DOUBLE, BOOLEAN, DATE, TIMESTAMP)


_CANONICAL_INT = r"^(?:-?[1-9][0-9]*|0)$"


def _fast_parse(arr: pa.Array, node: _Node, lossy: bool = False) -> pa.Array | None:
    """Vectorized parse with Arrow's casts for the common flat types. None sends the column down
    the per-value path, which accepts more spellings and finds the failing row for the error."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    target = node.arrow
    if node.kind == TEXT or (node.kind == ASCII and pc.all(pc.string_is_ascii(arr)).as_py() is not False):
        return pc.cast(arr, target)
    if node.kind == VARINT and (pa.types.is_string(target) or pa.types.is_large_string(target)):
        # Canonical digits (what an export writes) are already the stored text.
        canonical = pc.all(pc.match_substring_regex(arr, _CANONICAL_INT)).as_py() is not False
        return pc.cast(arr, target) if canonical else None
    if node.kind not in _FAST_KINDS:
        return None
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    cleaned = pc.if_else(blank, pa.scalar(None, arr.type), arr) if pc.any(blank).as_py() else arr
    try:
        result = pc.cast(cleaned, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if node.kind in (FLOAT, DOUBLE):
        # Arrow turns an overflow into infinity; only an infinity literal may become one.
        infinite = pc.fill_null(pc.is_inf(result), False)
        if pc.any(infinite).as_py():
            spelled = pc.fill_null(pc.match_substring(cleaned, "inf", ignore_case=True), False)
            if pc.any(pc.and_(infinite, pc.invert(spelled))).as_py():
                return None
        if not lossy and not _precise(cleaned, result, node.kind):
            return None
    return result


def _parse_column(values: Any, field: pa.Field, options: CsvOptions) -> tuple[pa.Array, dict[int, TextCodecError]]:
    """The column and the failing rows (parsed as null), in one pass over the values."""
    node = _field_node(field)
    opts = _ParseOpts(options.binary_format, options.allow_precision_loss)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        fast = _fast_parse(values, node, opts.lossy)
        if fast is not None:
            return fast, {}
        values = values.to_pylist()
    out: list[Any] = []
    errors: dict[int, TextCodecError] = {}
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(_parse_text(value, node, opts))
        except TextCodecError as exc:
            exc.row = row
            errors[row] = exc
            out.append(None)
    try:
        return to_arrow_column(out, field), errors
    except TextCodecError:
        pass
    # Rare: a value the parser accepted but Arrow cannot hold; find it value by value.
    built = []
    for row, value in enumerate(out):
        try:
            built.append(to_arrow_column([value], field))
        except TextCodecError as exc:
            exc.row = row
            errors[row] = exc
            built.append(to_arrow_column([None], field))
    return (pa.concat_arrays(built) if built else to_arrow_column([], field)), errors


def parse_csv_column(
    values: Sequence[str | None] | pa.Array | pa.ChunkedArray, field: pa.Field, options: CsvOptions | None = None
) -> pa.Array:
    """Convert one column of CSV cell texts (already unquoted; None = null) to the field's type.

    Follows DSBulk on load: an empty string is null except for text types (empty text), blobs
    (empty blob) and durations (DSBulk's zero duration); numbers may be any exact form ("1.0"
    for an int); booleans also as yes/no, y/n, t/f, 1/0; collections, tuples and UDTs are JSON,
    with or without their outer brackets. A failure raises :class:`TextCodecError` whose ``row``
    is the index of the (first) bad value.
    """
    column, errors = _parse_column(values, field, options or CsvOptions())
    if errors:
        raise errors[min(errors)]
    return column


def parse_text_column(
    values: Sequence[str | None] | pa.Array | pa.ChunkedArray, field: pa.Field, options: CsvOptions | None = None
) -> tuple[pa.Array, dict[int, str]]:
    """:func:`parse_csv_column` that keeps going: ``(column, {row: reason})``, each failing row
    parsed as null. One pass whatever the number of bad values (a load rejects them one by one)."""
    column, errors = _parse_column(values, field, options or CsvOptions())
    return column, {row: str(exc) for row, exc in errors.items()}


# -- whole files back into typed Arrow (for loads and for checking exports) --------------------------


def read_csv(source: Any, schema: pa.Schema, options: CsvOptions | None = None) -> pa.Table:
    """A CSV file written by :func:`render_csv` (or by DSBulk) as a typed table of ``schema``.

    ``source`` is the file's bytes, a binary file-like object (e.g. a ``pyarrow.NativeFile``) or a
    local path. pyarrow tokenizes (fast, multi-threaded); every cell stays text until
    :func:`parse_csv_column` types it, so an unquoted empty cell is null and a quoted ``""`` is the
    empty string. With ``options.header`` the first line is the header and names the columns;
    otherwise the columns are ``schema``'s in order.
    """
    import pyarrow.csv as pacsv

    options = options or CsvOptions()
    if options.rewrites_lines:  # comments, a multi-character delimiter
        data = source.read() if hasattr(source, "read") else source
        if isinstance(data, str):
            with open(data, "rb") as f:
                data = f.read()
        source = rewritten_bytes(bytes(data), options)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = pa.BufferReader(pa.py_buffer(source))
    escape_is_quote = options.escape == options.quote
    tokens = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=None if options.header else schema.names, autogenerate_column_names=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=options.tokenizer_delimiter,
            quote_char=options.quote,
            escape_char=False if escape_is_quote else options.escape,
            double_quote=escape_is_quote,
            newlines_in_values=True,
            ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(schema.names, pa.string()),
            strings_can_be_null=True,
            null_values=[options.null_string],
            quoted_strings_can_be_null=False,
            include_columns=schema.names,
        ),
    )
    return pa.table([parse_csv_column(tokens.column(f.name), f, options) for f in schema], schema=schema)
