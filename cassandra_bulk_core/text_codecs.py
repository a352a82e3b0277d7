"""CSV and JSON-lines renderings of Arrow batches, and the parsers that read them back.

The text follows DSBulk's codecs (``codec.*`` defaults, CSV connector on univocity, JSON connector on
Jackson), so DSBulk can load what we unload and we can load what DSBulk unloads:

==============  ==============================================  ======================================
CQL             text (CSV cell; JSON uses the same text as a     JSON value
                string unless a number/boolean/array/object)
==============  ==============================================  ======================================
text, ascii     as is                                            string
tinyint..       plain digits                                     number (exact)
bigint, varint
decimal         the canonical literal as stored (``1.23E+5``)    number literal, exactly that text
float, double   shortest round-trip digits; ``NaN``,             number; ``"NaN"``, ``"Infinity"``,
                ``Infinity``, ``-Infinity``                      ``"-Infinity"`` (Jackson's default)
boolean         ``true`` / ``false``                             boolean
blob            BASE64 (default) or ``0x`` hex (cqlsh style)     string
uuid, timeuuid  canonical lower-case                             string
inet            as the driver prints it                          string
date            ISO_LOCAL_DATE (``-5877641-06-23``,              string
                ``+5881580-07-11`` at the ends)
time            ISO_LOCAL_TIME (``HH:mm:ss`` + only the          string
                fraction digits needed)
timestamp       ISO_OFFSET_DATE_TIME in UTC (``...T...Z``)       string
duration        Cassandra's ``Duration.toString`` (``1mo2d3ns``)  string
list, set       JSON array (compact, as Jackson writes it)       array
map             JSON object, keys as strings                     object
tuple / UDT     JSON array / JSON object                         array / object
vector          ``[1.1, 2.2]`` (the driver's literal; text       array
                elements as JSON strings)
==============  ==============================================  ======================================

Deviations from DSBulk:

* A zero duration is written ``0s``; Cassandra prints ``""``, which DSBulk reads back as null.
* Blobs are parsed strictly in the configured format. DSBulk guesses (a ``0x`` prefix means hex),
  but ``0x00`` is also valid BASE64 for other bytes.
* Floats are written with Arrow's shortest digits (``1e+16``, ``0.00001``), not Java's ``1.0E16`` /
  ``1.0E-5``. Both are shortest round-trip forms and every Java/Python parser reads both. Negative
  zero is ``-0.0`` (JSON would read ``-0`` as the integer 0).
* CSV quotes a field holding the escape character, or leading/trailing blanks, as well as the
  delimiter, quote and line breaks; inside quotes the escape character escapes the quote and
  itself (univocity's default when escape and quote differ; pyarrow.csv reads it back exactly).

Rendering works column by column with ``pyarrow.compute`` (casts to string, trims, regex matches,
element-wise joins, list joins for collections). Python runs per value only for BASE64, durations,
temporal values outside years 0000-9999 and strings that need JSON escapes.

Each Arrow field names its CQL type in metadata (``cql_type``), which tells ``decimal``/``inet``
(strings), ``tuple``/UDT/``duration`` (structs) and ``set``/``list`` apart. Fields nested in a UDT
carry no CQL type, so their kind comes from the Arrow type alone (a decimal inside a UDT is
written as a JSON string, and still reads back exactly).
"""

from __future__ import annotations

import base64
import binascii
import decimal
import functools
import json
import math
import re
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError
from .types import CQL_TYPE_KEY, DURATION_TYPE

__all__ = [
    "BINARY_FORMATS",
    "CsvOptions",
    "TextCodecError",
    "parse_csv_column",
    "parse_json_value",
    "read_csv",
    "read_jsonl",
    "render_csv",
    "render_csv_header",
    "render_jsonl",
    "to_arrow_column",
]

BINARY_FORMATS = ("BASE64", "HEX")


class TextCodecError(ValueError):
    """A text or JSON value that does not convert to its column's type.

    The message names the value, the expected CQL type and the reason, e.g.
    ``cannot parse 'abc' as int: invalid literal``; callers add the record and column names.
    ``row`` is the index within the parsed column when :func:`parse_csv_column` raised it.
    """

    def __init__(self, value: Any, cql_type: str, reason: str, row: int | None = None) -> None:
        self.value = value
        self.cql_type = cql_type
        self.reason = reason
        self.row = row
        super().__init__(f"cannot parse {_shorten(value)} as {cql_type}: {reason}")


def _shorten(value: Any) -> str:
    text = repr(value)
    if len(text) <= 80:
        return text
    size = f" ({len(value)} chars)" if isinstance(value, str) else ""
    return text[:60] + "..." + size


@dataclass(frozen=True)
class CsvOptions:
    """How CSV is written and read; the defaults are DSBulk's (``connector.csv.*``, ``codec.binary``).

    ``escape`` escapes the quote character (and itself) inside quoted fields; set it to the quote
    character for RFC 4180 doubled quotes. ``null_string`` is what a null is written as (DSBulk
    writes nothing); an empty string is always written quoted (``""``), so the two stay apart.
    """

    delimiter: str = ","
    quote: str = '"'
    escape: str = "\\"
    header: bool = True
    null_string: str = ""
    binary_format: str = "BASE64"
    newline: str = "\n"

    def __post_init__(self) -> None:
        object.__setattr__(self, "binary_format", _binary_format(self.binary_format))
        for name in ("delimiter", "quote", "escape"):
            # One character each: a longer delimiter cannot be split reliably, and read_csv
            # (pyarrow's tokenizer) takes single characters only.
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) != 1:
                raise ConfigError(f"the CSV {name} must be a single character, not {value!r}")
        if self.newline not in ("\n", "\r\n", "\r"):
            raise ConfigError(r"the CSV newline must be \n, \r\n or \r")
        specials = (self.quote, self.escape, "\r", "\n")
        if self.delimiter in specials:
            raise ConfigError("the CSV delimiter must not be the quote, escape or a line-break character")
        if any(c in self.null_string for c in specials) or (self.null_string and self.delimiter in self.null_string):
            raise ConfigError("the CSV null string must not contain the delimiter, quote, escape or line breaks")


def _binary_format(value: Any) -> str:
    """``BASE64`` or ``HEX`` (any case); ConfigError otherwise."""
    fmt = str(value).upper()
    if fmt not in BINARY_FORMATS:
        raise ConfigError(f"unknown binary format {value!r}; one of BASE64, HEX")
    return fmt


# -- type analysis ---------------------------------------------------------------------------------

TEXT, ASCII, INET, DECIMAL = "text", "ascii", "inet", "decimal"
INT, VARINT, FLOAT, DOUBLE, BOOLEAN, BLOB = "int", "varint", "float", "double", "boolean", "blob"
UUID, TIMEUUID, DATE, TIME, TIMESTAMP, DURATION = "uuid", "timeuuid", "date", "time", "timestamp", "duration"
LIST, SET, MAP, TUPLE, UDT, VECTOR = "list", "set", "map", "tuple", "udt", "vector"


@dataclass(frozen=True)
class _Cql:
    """A parsed CQL type string: ``map<text, frozen<addr>>`` → name ``map`` with two arguments."""

    name: str
    args: tuple[_Cql | int, ...] = ()

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}<{', '.join(str(a) for a in self.args)}>"


_CQL_TOKEN = re.compile(r"""\s*("(?:[^"]|"")*"|'[^']*'|[A-Za-z0-9_.$]+|[<>,])""")


def _parse_cql(text: str) -> _Cql | None:
    """Parse a CQL type string; None when it is not one (the Arrow type then decides alone)."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _CQL_TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                return None
            break
        tokens.append(m.group(1))
        pos = m.end()
    at = 0

    def parse_arg() -> _Cql | int:
        nonlocal at
        if at >= len(tokens):
            raise ValueError
        tok = tokens[at]
        if tok.isdigit():
            at += 1
            return int(tok)
        return parse_type()

    def parse_type() -> _Cql:
        nonlocal at
        if at >= len(tokens) or tokens[at] in "<>,":
            raise ValueError
        name = tokens[at]
        at += 1
        name = name if name.startswith(('"', "'")) else name.lower()
        args: list[_Cql | int] = []
        if at < len(tokens) and tokens[at] == "<":
            at += 1
            args.append(parse_arg())
            while at < len(tokens) and tokens[at] == ",":
                at += 1
                args.append(parse_arg())
            if at >= len(tokens) or tokens[at] != ">":
                raise ValueError
            at += 1
        return _Cql(name, tuple(args))

    try:
        result = parse_type()
    except ValueError:
        return None
    return result if at == len(tokens) else None


def _unfrozen(cql: _Cql | None) -> _Cql | None:
    while cql is not None and cql.name == "frozen" and len(cql.args) == 1 and isinstance(cql.args[0], _Cql):
        cql = cql.args[0]
    return cql


@dataclass(frozen=True)
class _Node:
    """What one Arrow field (or nested child) is in CQL terms, as far as text rendering cares."""

    kind: str
    cql: str
    arrow: pa.DataType
    children: tuple[_Node, ...] = ()
    names: tuple[str, ...] = ()
    size: int = 0


_INT_NAMES = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}
_STRING_KINDS = {"decimal": DECIMAL, "inet": INET, "ascii": ASCII}


def _is_uuid_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"


def _field_cql(field: pa.Field) -> _Cql | None:
    meta = field.metadata or {}
    raw = meta.get(CQL_TYPE_KEY)
    return _parse_cql(raw.decode()) if raw else None


def _child(field: pa.Field, cql_arg: _Cql | int | None) -> _Node:
    # A child field's own metadata wins; otherwise the argument of the parent's CQL type.
    own = _field_cql(field)
    cql = own or (cql_arg if isinstance(cql_arg, _Cql) else None)
    return _build(field.type, cql)


def _build(t: pa.DataType, cql: _Cql | None) -> _Node:
    cql = _unfrozen(cql)
    name = cql.name if cql is not None else None
    label = str(cql) if cql is not None else None
    args = cql.args if cql is not None else ()

    def arg(i: int) -> _Cql | int | None:
        return args[i] if i < len(args) else None

    if _is_uuid_type(t):
        kind = TIMEUUID if name == "timeuuid" else UUID
        return _Node(kind, label or kind, t)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        kind = _STRING_KINDS.get(name or "", TEXT)
        return _Node(kind, label or kind, t)
    if pa.types.is_integer(t):
        return _Node(INT, label or _INT_NAMES.get(t.bit_width, "bigint"), t)
    if pa.types.is_decimal(t):
        return _Node(VARINT, label or "varint", t)
    if pa.types.is_float32(t):
        return _Node(FLOAT, label or "float", t)
    if pa.types.is_float64(t):
        return _Node(DOUBLE, label or "double", t)
    if pa.types.is_boolean(t):
        return _Node(BOOLEAN, label or "boolean", t)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return _Node(BLOB, label or "blob", t)
    if pa.types.is_date32(t):
        return _Node(DATE, label or "date", t)
    if pa.types.is_time(t):
        return _Node(TIME, label or "time", t)
    if pa.types.is_timestamp(t):
        return _Node(TIMESTAMP, label or "timestamp", t)
    if pa.types.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        names = tuple(f.name for f in fields)
        if name == "duration" or (name is None and t == DURATION_TYPE):
            return _Node(DURATION, "duration", t)
        if name == "tuple" or (name is None and names == tuple(f"f{i}" for i in range(len(names)))):
            kids = tuple(_child(f, arg(i) if name == "tuple" else None) for i, f in enumerate(fields))
            return _Node(TUPLE, label or f"tuple<{', '.join(k.cql for k in kids)}>", t, kids, names)
        kids = tuple(_child(f, None) for f in fields)
        return _Node(UDT, label or "udt", t, kids, names)
    if pa.types.is_map(t):
        key = _child(t.key_field, arg(0) if name == "map" else None)
        item = _child(t.item_field, arg(1) if name == "map" else None)
        return _Node(MAP, label or f"map<{key.cql}, {item.cql}>", t, (key, item))
    if pa.types.is_fixed_size_list(t):
        elem = _child(t.value_field, arg(0) if name == "vector" else None)
        return _Node(VECTOR, label or f"vector<{elem.cql}, {t.list_size}>", t, (elem,), size=t.list_size)
    if pa.types.is_list(t):
        kind = SET if name == "set" else LIST
        elem = _child(t.value_field, arg(0) if name in ("list", "set") else None)
        return _Node(kind, label or f"{kind}<{elem.cql}>", t, (elem,))
    raise TypeError(f"no text rendering for Arrow type {t}")


@functools.lru_cache(maxsize=1024)
def _node_for(t: pa.DataType, cql_text: str | None, _nested_metadata: Any) -> _Node:
    return _build(t, _parse_cql(cql_text) if cql_text else None)


def _nested_metadata(t: pa.DataType) -> Any:
    """Child fields' metadata, part of the cache key: DataType equality ignores it."""
    fields = [t.field(i) for i in range(t.num_fields)]
    return tuple((f.name, tuple(sorted((f.metadata or {}).items())), _nested_metadata(f.type)) for f in fields)


def _field_node(field: pa.Field) -> _Node:
    raw = (field.metadata or {}).get(CQL_TYPE_KEY)
    return _node_for(field.type, raw.decode() if raw else None, _nested_metadata(field.type))


# -- rendering: helpers ----------------------------------------------------------------------------

_STR = pa.string()
_EMPTY = pa.scalar("", _STR)
_NULL_STR = pa.scalar(None, _STR)
_QUOTE = pa.scalar('"', _STR)
_JSON_NULL = pa.scalar("null", _STR)

_CHUNK_ROWS = 65_536
"""Rows rendered per Arrow pass: bounds memory and keeps string offsets far below 2 GiB."""
_CHUNK_BYTES = 64 << 20


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


def _chunks(batch: pa.RecordBatch) -> list[pa.RecordBatch]:
    n = batch.num_rows
    rows = _CHUNK_ROWS
    size = batch.nbytes
    if size > _CHUNK_BYTES:
        rows = max(1, min(rows, n * _CHUNK_BYTES // size))
    if n <= rows:
        return [batch]
    return [batch.slice(start, rows) for start in range(0, n, rows)]


# -- rendering: scalars as text --------------------------------------------------------------------


def _civil(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count since 1970-01-01, for any int."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= 1 if month <= 2 else 0
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def _year_text(year: int) -> str:
    # java.time's ISO year: at least 4 digits, '+' beyond 9999, '-' before year 0.
    if year > 9999:
        return f"+{year}"
    if year < 0:
        return f"-{-year:04d}"
    return f"{year:04d}"


def _date_text(days: int) -> str:
    y, m, d = _civil(days)
    return f"{_year_text(y)}-{m:02d}-{d:02d}"


def _fraction(value: int, digits: int) -> str:
    return "." + f"{value:0{digits}d}".rstrip("0") if value else ""


def _time_text(nanos: int) -> str:
    seconds, frac = divmod(nanos, 1_000_000_000)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{_fraction(frac, 9)}"


_PER_SECOND = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


def _timestamp_text(value: int, unit: str) -> str:
    per = _PER_SECOND[unit]
    seconds, frac = divmod(value, per)
    days, sod = divmod(seconds, 86_400)
    digits = len(str(per)) - 1
    return f"{_date_text(days)}T{_time_text(sod * 1_000_000_000)}{_fraction(frac, digits)}Z"


_DURATION_UNITS = (
    (3_600_000_000_000, "h"),
    (60_000_000_000, "m"),
    (1_000_000_000, "s"),
    (1_000_000, "ms"),
    (1000, "us"),
    (1, "ns"),
)


def _duration_text(months: int, days: int, nanos: int) -> str:
    """Cassandra's Duration.toString (years and months, days, then h m s ms us ns; no weeks)."""
    if months == 0 and days == 0 and nanos == 0:
        return "0s"  # Cassandra prints "", which DSBulk would read back as null
    out = ["-"] if months < 0 or days < 0 or nanos < 0 else []
    months, days, nanos = abs(months), abs(days), abs(nanos)
    if months >= 12:
        out.append(f"{months // 12}y")
    if months % 12:
        out.append(f"{months % 12}mo")
    if days:
        out.append(f"{days}d")
    for size, unit in _DURATION_UNITS:
        if nanos >= size:
            out.append(f"{nanos // size}{unit}")
            nanos %= size
    return "".join(out)


# Years 0000-9999: Arrow's own date/timestamp text is exactly java.time's ISO text there.
_VEC_MIN_DAY, _VEC_MAX_DAY = -719_528, 2_932_896


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
    encoded = pa.array([None if v is None else b2a(v, newline=False) for v in arr.to_pylist()], pa.binary())
    return encoded.cast(_STR)


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


def _date_col_text(arr: pa.Array) -> pa.Array:
    days = pc.cast(arr, pa.int32())
    text = pc.cast(arr, _STR)
    outside = pc.or_(pc.less(days, _VEC_MIN_DAY), pc.greater(days, _VEC_MAX_DAY))
    return _patch(text, outside, days, _date_text)


def _time_col_text(arr: pa.Array) -> pa.Array:
    if arr.type != pa.time64("ns"):
        arr = pc.cast(arr, pa.time64("ns"))
    text = pc.cast(arr, _STR)  # always HH:MM:SS.nnnnnnnnn: drop the zeros java.time leaves out
    return pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")


def _timestamp_col_text(arr: pa.Array) -> pa.Array:
    unit = arr.type.unit
    per = _PER_SECOND[unit]
    ints = pc.cast(arr, pa.int64())
    text = pc.cast(pc.cast(ints, pa.timestamp(unit)), _STR)  # yyyy-MM-dd HH:mm:ss[.fff]
    if unit != "s":  # the fraction is always there: drop the zeros java.time leaves out
        text = pc.utf8_rtrim(pc.utf8_rtrim(text, characters="0"), characters=".")
    text = _join(pc.replace_substring(text, " ", "T", max_replacements=1), _lit("Z"))
    # Clamped to int64: in nanoseconds the whole range lies inside years 1677-2262.
    low = max(_VEC_MIN_DAY * 86_400 * per, -(2**63))
    high = min((_VEC_MAX_DAY + 1) * 86_400 * per - 1, _I64)
    outside = pc.or_(pc.less(ints, low), pc.greater(ints, high))
    return _patch(text, outside, ints, lambda v: _timestamp_text(v, unit))


def _duration_col_text(arr: pa.Array) -> pa.Array:
    months, days, nanos = (arr.field(i).to_pylist() for i in range(3))
    valid = arr.is_valid().to_pylist()
    out = [
        _duration_text(m or 0, d or 0, ns or 0) if ok else None
        for ok, m, d, ns in zip(valid, months, days, nanos, strict=True)
    ]
    return pa.array(out, _STR)


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
    chars = _re2_literal(options.quote + options.escape)
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


# -- parsing ---------------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)\Z", re.I)
_BOOLEANS = {
    "true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
    "y": True, "n": False, "t": True, "f": False,
}  # fmt: skip
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX_RE = re.compile(r"0[xX](?:[0-9a-fA-F]{2})*\Z")
_DATE_RE = re.compile(r"([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})\Z")
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?\Z")
_TIMESTAMP_RE = re.compile(
    r"([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?"
    r"\s*(Z|[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT)?\Z",
    re.I,
)
_DURATION_STD_RE = re.compile(r"([0-9]+)(mo|ms|us|µs|ns|y|w|d|h|m|s)", re.I)
_DURATION_ISO_RE = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)S)?)?\Z"
)
_DURATION_ISO_WEEK_RE = re.compile(r"P([0-9]+)W\Z")
_DURATION_ISO_ALT_RE = re.compile(r"P([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\Z")
_NANOS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000, "ms": 1_000_000, "us": 1000, "ns": 1}
_UNIT_ORDER = {"y": 1, "mo": 2, "w": 3, "d": 4, "h": 5, "m": 6, "s": 7, "ms": 8, "us": 9, "ns": 10}
_I32 = 2**31 - 1
_I64 = 2**63 - 1


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    if pa.types.is_unsigned_integer(t):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _finite_decimal(s: str, node: _Node, not_finite: str = "invalid literal") -> decimal.Decimal:
    """The exact decimal value of ``s`` (ASCII, blanks around allowed); ``not_finite`` for NaN/Infinity."""
    try:
        if not s.isascii():
            raise decimal.InvalidOperation
        dec = decimal.Decimal(s.strip())
    except decimal.InvalidOperation:
        raise TextCodecError(s, node.cql, "invalid literal") from None
    if not dec.is_finite():
        raise TextCodecError(s, node.cql, not_finite)
    return dec


def _parse_integer(s: str, node: _Node) -> int:
    text = s.strip()
    if text.isascii() and _INT_RE.match(text) and len(text) <= 40:
        value = int(text)
    else:
        dec = _finite_decimal(s, node)  # DSBulk accepts any exactly integral number ("1.0", "1E3")
        if dec.adjusted() > 40 or dec != dec.to_integral_value():
            raise TextCodecError(s, node.cql, "not an integer")
        value = int(dec)
    lo, hi = _int_range(node.arrow)
    if not lo <= value <= hi:
        raise TextCodecError(s, node.cql, f"out of range ({lo}..{hi})")
    return value


def _parse_exact(s: str, node: _Node) -> decimal.Decimal:
    t = node.arrow
    dec = _finite_decimal(s, node)
    if dec.adjusted() >= t.precision - t.scale:
        raise TextCodecError(s, node.cql, f"more than {t.precision - t.scale} digits (Arrow {t})")
    ctx = decimal.Context(prec=t.precision + 2)
    quantized = dec.quantize(decimal.Decimal(1).scaleb(-t.scale), context=ctx)
    if quantized != dec:
        raise TextCodecError(s, node.cql, "not an integer" if t.scale == 0 else f"more than {t.scale} decimals")
    return quantized


def _parse_decimal(s: str, node: _Node) -> str:
    # the canonical literal, as the driver's Decimal prints it
    return str(_finite_decimal(s, node, "a CQL decimal cannot be NaN or infinite"))


def _parse_floating(s: str, node: _Node) -> float:
    text = s.strip()
    if not _FLOAT_RE.match(text):
        raise TextCodecError(s, node.cql, "invalid literal")
    if node.kind == DOUBLE:
        value = float(text)
    else:
        # Arrow's cast rounds the decimal straight to the nearest float32 (not through a double,
        # which could land on a float32 midpoint), exactly as the vectorized path does.
        try:
            value = pc.cast(pa.scalar(text, _STR), pa.float32()).as_py()
        except pa.ArrowInvalid:
            raise TextCodecError(s, node.cql, "invalid literal") from None
    if math.isinf(value) and "inf" not in text.lower():  # both casts turn an overflow into infinity
        raise TextCodecError(s, node.cql, f"out of range for {node.cql}")
    return float(value)


def _parse_blob(s: str, node: _Node, binary_format: str) -> bytes:
    if binary_format == "HEX":
        if not _HEX_RE.match(s):
            raise TextCodecError(s, node.cql, "expected 0x followed by pairs of hex digits")
        return bytes.fromhex(s[2:])
    padded = s + "=" * (-len(s) % 4)  # Java's decoder does not require the padding
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise TextCodecError(s, node.cql, "invalid BASE64") from None


def _parse_uuid(s: str, node: _Node) -> bytes:
    text = s.strip()
    if not _UUID_RE.match(text):
        raise TextCodecError(s, node.cql, "expected 8-4-4-4-12 hex digits")
    raw = uuid.UUID(text).bytes
    if node.kind == TIMEUUID and raw[6] >> 4 != 1:
        raise TextCodecError(s, node.cql, "not a version 1 (time-based) UUID")
    return raw


def _parse_inet(s: str, node: _Node) -> str:
    text = s.strip()
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, text))  # the driver's spelling
        except (OSError, ValueError):
            continue
    raise TextCodecError(s, node.cql, "not an IPv4 or IPv6 address")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _ymd(s: str, node: _Node, year: str, month: str, day: str) -> int:
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12 or not 1 <= d <= _days_in_month(y, m):
        raise TextCodecError(s, node.cql, "no such calendar date")
    return _days_from_civil(y, m, d)


def _parse_date(s: str, node: _Node) -> int:
    m = _DATE_RE.match(s.strip())
    if m is None:
        raise TextCodecError(s, node.cql, "expected yyyy-MM-dd")
    days = _ymd(s, node, *m.groups())
    if not -(2**31) <= days <= _I32:
        raise TextCodecError(s, node.cql, "outside the CQL date range (-5877641-06-23..+5881580-07-11)")
    return days


def _clock(s: str, node: _Node, hour: str | None, minute: str | None, second: str | None) -> int:
    h, mi, sec = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or mi > 59 or sec > 59:
        raise TextCodecError(s, node.cql, "no such time of day")
    return (h * 60 + mi) * 60 + sec


def _parse_time(s: str, node: _Node) -> int:
    text = s.strip()
    if _INT_RE.match(text) and not text.startswith(("+", "-")):
        nanos = int(text)  # CQL also takes a time as nanoseconds since midnight
        if nanos >= 86_400_000_000_000:
            raise TextCodecError(s, node.cql, "beyond 23:59:59.999999999")
        return nanos
    m = _TIME_RE.match(text)
    if m is None:
        raise TextCodecError(s, node.cql, "expected HH:mm[:ss[.fffffffff]]")
    hour, minute, second, frac = m.groups()
    return _clock(s, node, hour, minute, second) * 1_000_000_000 + int((frac or "").ljust(9, "0"))


def _parse_timestamp(s: str, node: _Node) -> int:
    text = s.strip()
    unit = node.arrow.unit
    per = _PER_SECOND[unit]
    if _INT_RE.match(text):
        value = int(text)  # units since the epoch (milliseconds for CQL timestamps)
    else:
        m = _TIMESTAMP_RE.match(text)
        if m is None:
            raise TextCodecError(s, node.cql, "expected an ISO-8601 date-time like 2024-01-01T00:00:00Z")
        year, month, day, hour, minute, second, frac, zone = m.groups()
        days = _ymd(s, node, year, month, day)
        offset = 0
        if zone and zone.upper() not in ("Z", "UTC", "GMT"):
            digits = zone[1:].replace(":", "")
            hh, mm = int(digits[:2]), int(digits[2:] or 0)
            if hh > 18 or mm > 59:
                raise TextCodecError(s, node.cql, "invalid UTC offset")
            offset = (1 if zone[0] == "+" else -1) * (hh * 3600 + mm * 60)
        seconds = days * 86_400 + _clock(s, node, hour, minute, second) - offset
        # Sub-unit digits are dropped (floor), as DSBulk does when converting to epoch units.
        value = seconds * per + int((frac or "").ljust(9, "0")) // (1_000_000_000 // per)
    if not -(2**63) <= value <= _I64:
        raise TextCodecError(s, node.cql, "outside the 64-bit timestamp range")
    return value


def _parse_duration(s: str, node: _Node) -> dict[str, int]:
    text = s.strip()
    if not text:
        return {"months": 0, "days": 0, "nanoseconds": 0}  # DSBulk writes a zero duration as ""
    negative = text.startswith("-")
    body = text[1:] if negative else text
    months = days = nanos = 0

    def bad(reason: str = "expected a duration like 1y2mo3d4h5m6s or P1Y2M3DT4H5M6S") -> TextCodecError:
        return TextCodecError(s, node.cql, reason)

    if body.startswith("P"):
        if (m := _DURATION_ISO_WEEK_RE.match(body)) is not None:
            days = int(m.group(1)) * 7
        elif (m := _DURATION_ISO_ALT_RE.match(body) if "-" in body else _DURATION_ISO_RE.match(body)) is not None:
            y, mo, d, h, mi, sec = (int(g or 0) for g in m.groups())
            if body == "P" or body.endswith("T"):
                raise bad()
            months, days = y * 12 + mo, d
            nanos = h * _NANOS["h"] + mi * _NANOS["m"] + sec * _NANOS["s"]
        else:
            raise bad()
    else:
        pos, last = 0, 0
        while pos < len(body):
            m = _DURATION_STD_RE.match(body, pos)
            if m is None:
                raise bad()
            number, unit = int(m.group(1)), m.group(2).lower().replace("µ", "u")
            order = _UNIT_ORDER[unit]
            if order <= last:
                raise bad(f"unit {unit!r} repeated or out of order")
            last, pos = order, m.end()
            if unit == "y":
                months += number * 12
            elif unit == "mo":
                months += number
            elif unit == "w":
                days += number * 7
            elif unit == "d":
                days += number
            else:
                nanos += number * _NANOS[unit]
        if pos == 0:
            raise bad()
    # Magnitudes: a negative duration reaches one further (-2**31 months, -2**63 nanoseconds).
    extra = 1 if negative else 0
    if months > _I32 + extra or days > _I32 + extra or nanos > _I64 + extra:
        raise bad("too large for a CQL duration")
    sign = -1 if negative else 1
    return {"months": sign * months, "days": sign * days, "nanoseconds": sign * nanos}


def _parse_nested_text(s: str, node: _Node, binary_format: str) -> Any:
    text = s.strip()
    # DSBulk accepts collections without their outer brackets (DAT-317).
    if node.kind in (MAP, UDT) and not text.startswith("{") and not (node.kind == UDT and text.startswith("[")):
        text = "{" + text + "}"
    elif node.kind in (LIST, SET, VECTOR, TUPLE) and not text.startswith("["):
        text = "[" + text + "]"
    try:
        value = json.loads(text, parse_float=decimal.Decimal)
    except ValueError as exc:
        raise TextCodecError(s, node.cql, f"invalid JSON: {exc}") from None
    try:
        return _parse_json(value, node, binary_format)
    except TextCodecError as exc:
        raise TextCodecError(s, node.cql, exc.reason if exc.value is value else str(exc)) from None


def _parse_text(s: Any, node: _Node, binary_format: str) -> Any:
    """One non-null text value (a CSV cell, or a JSON string/map key) as a value for ``pa.array``."""
    if not isinstance(s, str):
        raise TextCodecError(s, node.cql, f"expected text, got {type(s).__name__}")
    kind = node.kind
    if kind == TEXT:
        return s
    if kind == ASCII:
        if not s.isascii():
            raise TextCodecError(s, node.cql, "non-ASCII character")
        return s
    if kind == BLOB:
        return _parse_blob(s, node, binary_format)  # "" is an empty blob (DSBulk's DAT-573)
    if kind == DURATION:
        return _parse_duration(s, node)
    if s == "" or s.isspace():
        return None  # DSBulk: an empty string is null for every non-text type
    if kind == INT:
        return _parse_integer(s, node)
    if kind == VARINT:
        return _parse_exact(s, node)
    if kind == DECIMAL:
        return _parse_decimal(s, node)
    if kind in (FLOAT, DOUBLE):
        return _parse_floating(s, node)
    if kind == BOOLEAN:
        value = _BOOLEANS.get(s.strip().lower())
        if value is None:
            raise TextCodecError(s, node.cql, "expected true/false (or yes/no, y/n, t/f, 1/0)")
        return value
    if kind in (UUID, TIMEUUID):
        return _parse_uuid(s, node)
    if kind == INET:
        return _parse_inet(s, node)
    if kind == DATE:
        return _parse_date(s, node)
    if kind == TIME:
        return _parse_time(s, node)
    if kind == TIMESTAMP:
        return _parse_timestamp(s, node)
    return _parse_nested_text(s, node, binary_format)


def _number_text(value: Any) -> str | None:
    """A JSON number as text, exactly (ints, Decimals from ``parse_float=Decimal``, floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return None


def _parse_json(value: Any, node: _Node, binary_format: str) -> Any:
    if value is None:
        return None
    kind = node.kind
    if isinstance(value, str):
        return _parse_text(value, node, binary_format)  # nested kinds: JSON text inside a string
    if kind in (TEXT, ASCII):
        if isinstance(value, bool):
            return "true" if value else "false"
        number = _number_text(value)
        if number is None:
            raise TextCodecError(value, node.cql, f"expected a JSON string, got {type(value).__name__}")
        return _parse_text(number, node, binary_format)
    if kind in (INT, VARINT, DECIMAL, FLOAT, DOUBLE):
        number = _number_text(value)
        if number is None:
            raise TextCodecError(value, node.cql, f"expected a JSON number, got {type(value).__name__}")
        return _parse_text(number, node, binary_format)
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TextCodecError(value, node.cql, f"expected a JSON boolean, got {type(value).__name__}")
    if kind == TIMESTAMP and isinstance(value, int) and not isinstance(value, bool):
        return _parse_text(str(value), node, binary_format)
    if kind == DURATION and isinstance(value, dict):
        try:
            return {k: int(value.get(k, 0) or 0) for k in ("months", "days", "nanoseconds")}
        except (TypeError, ValueError):
            raise TextCodecError(value, node.cql, "expected integer months, days and nanoseconds") from None
    if kind in (LIST, SET, VECTOR):
        if not isinstance(value, list):
            raise TextCodecError(value, node.cql, f"expected a JSON array, got {type(value).__name__}")
        if kind == VECTOR and len(value) != node.size:
            raise TextCodecError(value, node.cql, f"expected {node.size} elements, got {len(value)}")
        return [_nested(value, node, f"element {i}", v, node.children[0], binary_format) for i, v in enumerate(value)]
    if kind == MAP:
        if not isinstance(value, dict):
            raise TextCodecError(value, node.cql, f"expected a JSON object, got {type(value).__name__}")
        key_node, item_node = node.children
        out = []
        for k, v in value.items():
            key = _nested(value, node, f"key {k!r}", k, key_node, binary_format, as_text=True)
            if key is None:
                raise TextCodecError(value, node.cql, f"key {k!r}: a map key cannot be null")
            out.append((key, _nested(value, node, f"value of {k!r}", v, item_node, binary_format)))
        return out
    if kind in (TUPLE, UDT):
        if isinstance(value, list):
            if len(value) != len(node.children):
                raise TextCodecError(value, node.cql, f"expected {len(node.children)} elements, got {len(value)}")
            items = list(zip(node.names, value, strict=True))
        elif isinstance(value, dict):
            unknown = [k for k in value if k not in node.names]
            if unknown:
                raise TextCodecError(value, node.cql, f"unknown field {unknown[0]!r}")
            items = [(n, value.get(n)) for n in node.names]
        else:
            raise TextCodecError(value, node.cql, f"expected a JSON array or object, got {type(value).__name__}")
        return {
            n: _nested(value, node, f"field {n!r}", v, child, binary_format)
            for (n, v), child in zip(items, node.children, strict=True)
        }
    raise TextCodecError(value, node.cql, f"expected a JSON string, got {type(value).__name__}")


def _nested(
    whole: Any, node: _Node, where: str, value: Any, child: _Node, binary_format: str, *, as_text: bool = False
) -> Any:
    """Parse a part of a nested value; an error names the whole value and where the part is."""
    try:
        if as_text:
            return _parse_text(value, child, binary_format)
        return _parse_json(value, child, binary_format)
    except TextCodecError as exc:
        raise TextCodecError(whole, node.cql, f"{where}: {exc}") from None


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


def parse_json_value(value: Any, field: pa.Field, *, binary_format: str = "BASE64") -> Any:
    """One JSON value (as ``json.loads`` returns it) as a Python value for the field's Arrow type.

    Load JSON with ``parse_float=decimal.Decimal`` so decimals and floats keep their exact digits.
    Strings are read with the CSV rules (a timestamp is its ISO text, a blob its BASE64 or hex),
    so ``"123"`` is also accepted for an int. Build the column with :func:`to_arrow_column`.
    """
    return _parse_json(value, _field_node(field), _binary_format(binary_format))


_FAST_KINDS = (INT, FLOAT, DOUBLE, BOOLEAN, DATE, TIMESTAMP)


def _fast_parse(arr: pa.Array, node: _Node) -> pa.Array | None:
    """Vectorized parse with Arrow's casts for the common flat types. None sends the column down
    the per-value path, which accepts more spellings and finds the failing row for the error."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    target = node.arrow
    if node.kind == TEXT or (node.kind == ASCII and pc.all(pc.string_is_ascii(arr)).as_py() is not False):
        return pc.cast(arr, target)
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
    return result


def parse_csv_column(
    values: Sequence[str | None] | pa.Array | pa.ChunkedArray, field: pa.Field, options: CsvOptions | None = None
) -> pa.Array:
    """Convert one column of CSV cell texts (already unquoted; None = null) to the field's type.

    Follows DSBulk on load: an empty string is null except for text types (empty text), blobs
    (empty blob) and durations (DSBulk's zero duration); numbers may be any exact form ("1.0"
    for an int); booleans also as yes/no, y/n, t/f, 1/0; collections, tuples and UDTs are JSON,
    with or without their outer brackets. A failure raises :class:`TextCodecError` whose ``row``
    is the index of the bad value.
    """
    opts = options or CsvOptions()
    node = _field_node(field)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        fast = _fast_parse(values, node)
        if fast is not None:
            return fast
        values = values.to_pylist()
    out: list[Any] = []
    for row, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            out.append(_parse_text(value, node, opts.binary_format))
        except TextCodecError as exc:
            exc.row = row
            raise
    return to_arrow_column(out, field)


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
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = pa.BufferReader(pa.py_buffer(source))
    escape_is_quote = options.escape == options.quote
    tokens = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=None if options.header else schema.names, autogenerate_column_names=False
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=options.delimiter,
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
