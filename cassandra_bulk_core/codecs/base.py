"""Shared by the text codecs: the error, the CSV options and the kinds of column."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

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
    encoding: str = "utf-8"
    """The input's character encoding (Python codec name); a byte it cannot decode rejects its record."""
    allow_precision_loss: bool = False
    """DSBulk's ``codec.overflowStrategy``: False (``REJECT``) refuses a number whose text has more
    precision than the column's type holds (``0.12345678901234567890123`` for a double); True
    (``TRUNCATE``) rounds it to the nearest value."""
    comment: str = ""
    """Reading: a line starting with this character (outside a quoted field) is skipped
    (DSBulk's ``connector.csv.comment``); empty: none."""
    skip_records: int = 0
    """Reading: records skipped at the start of each file, after its header (``skipRecords``)."""
    max_records: int = -1
    """Reading: records read from each file at most, after the skipped ones; negative: all (``maxRecords``)."""
    ignore_leading_whitespaces: bool = False
    """Reading: strip blanks at the start of every value (``ignoreLeadingWhitespaces``; unlike
    univocity, quoted values are stripped too)."""
    ignore_trailing_whitespaces: bool = False
    """Reading: strip blanks at the end of every value (``ignoreTrailingWhitespaces``)."""
    null_strings: tuple[str, ...] = ()
    """Reading: values read as null besides ``null_string``, quoted or not (``codec.nullStrings``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "binary_format", _binary_format(self.binary_format))
        try:
            object.__setattr__(self, "encoding", codecs.lookup(self.encoding).name)
        except (LookupError, TypeError):
            raise ConfigError(f"unknown character encoding {self.encoding!r}") from None
        object.__setattr__(self, "null_strings", tuple(self.null_strings))
        _check_characters(self)
        if self.skip_records < 0:
            raise ConfigError("the number of records to skip must not be negative")

    @property
    def tokenizer_delimiter(self) -> str:
        """The single character a tokenizer splits on: the delimiter, or for a multi-character
        delimiter the unit separator it is rewritten to outside quoted fields."""
        return self.delimiter if len(self.delimiter) == 1 else MULTI_DELIMITER_STAND_IN

    @property
    def rewrites_lines(self) -> bool:
        """Whether reading needs the line rewriting of :mod:`.csv_lines` (comments, long delimiters)."""
        return bool(self.comment) or len(self.delimiter) != 1


MULTI_DELIMITER_STAND_IN = "\x1f"


def _check_characters(options: CsvOptions) -> None:
    for name in ("quote", "escape"):
        # pyarrow's tokenizer takes single characters only.
        value = getattr(options, name)
        if not isinstance(value, str) or len(value) != 1:
            raise ConfigError(f"the CSV {name} must be a single character, not {value!r}")
    delimiter = options.delimiter
    if not isinstance(delimiter, str) or not delimiter:
        raise ConfigError(f"the CSV delimiter must be one or more characters, not {delimiter!r}")
    if len(options.comment) > 1:
        raise ConfigError(f"the CSV comment must be a single character, not {options.comment!r}")
    if options.newline not in ("\n", "\r\n", "\r"):
        raise ConfigError(r"the CSV newline must be \n, \r\n or \r")
    specials = (options.quote, options.escape, "\r", "\n")
    if any(c in delimiter for c in specials) or MULTI_DELIMITER_STAND_IN in delimiter:
        raise ConfigError("the CSV delimiter must not hold the quote, escape or a line-break character")
    if options.comment and (options.comment in specials or options.comment in delimiter):
        raise ConfigError("the CSV comment must not be the delimiter, quote, escape or a line break")
    for null in (options.null_string, *options.null_strings):
        if any(c in null for c in specials) or (null and delimiter in null):
            raise ConfigError("the CSV null string must not contain the delimiter, quote, escape or line breaks")


@dataclass(frozen=True)
class _ParseOpts:
    """What a parse needs besides the value and its type (threaded through nested values)."""

    binary_format: str = "BASE64"
    lossy: bool = False
    """Accept numbers that lose precision in their type (DSBulk's ``overflowStrategy TRUNCATE``)."""


def _binary_format(value: Any) -> str:
    """``BASE64`` or ``HEX`` (any case); ConfigError otherwise."""
    fmt = str(value).upper()
    if fmt not in BINARY_FORMATS:
        raise ConfigError(f"unknown binary format {value!r}; one of BASE64, HEX")
    return fmt


# -- kinds of column (see nodes.py) ----------------------------------------------------------------

TEXT, ASCII, INET, DECIMAL = "text", "ascii", "inet", "decimal"
INT, VARINT, FLOAT, DOUBLE, BOOLEAN, BLOB = "int", "varint", "float", "double", "boolean", "blob"
UUID, TIMEUUID, DATE, TIME, TIMESTAMP, DURATION = "uuid", "timeuuid", "date", "time", "timestamp", "duration"
LIST, SET, MAP, TUPLE, UDT, VECTOR = "list", "set", "map", "tuple", "udt", "vector"

_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_I32 = 2**31 - 1
_I64 = 2**63 - 1
