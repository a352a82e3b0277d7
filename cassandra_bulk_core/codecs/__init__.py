"""CSV and JSON-lines renderings of Arrow batches, and the parsers that read them back.

The text follows DSBulk's codecs (``codec.*`` defaults, CSV connector on univocity, JSON connector on
Jackson), so DSBulk can load what we unload and we can load what DSBulk unloads:

==============  ==============================================  ======================================
CQL             text (CSV cell; JSON uses the same text as a     JSON value
                string unless a number/boolean/array/object)
==============  ==============================================  ======================================
text, ascii     as is                                            string
tinyint..       plain digits (a varint is unbounded)             number (exact)
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
* None for blobs any more: like DSBulk, a ``0x``-prefixed value is hex in either mode (``0x00``
  is never read as BASE64), ``""`` is the empty blob; only HEX mode refuses BASE64 text.
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
Modules: :mod:`.base` (errors, options, kinds), :mod:`.nodes` (the per-column node, a visitor over
the CQL type tree), :mod:`.render` (CSV/JSONL text), :mod:`.temporal`, :mod:`.numbers`,
:mod:`.values` (one value from text or JSON), :mod:`.cql_literals` (cqlsh/CQL literal syntax),
:mod:`.parse_csv` and :mod:`.parse_json` (whole columns and files), :mod:`.csv_lines` (comment
lines, multi-character delimiters), :mod:`.json_docs` (JSON Lines, arrays, multi-line documents).
"""

from __future__ import annotations

from .base import BINARY_FORMATS, CsvOptions, TextCodecError
from .parse_csv import parse_csv_column, parse_text_column, read_csv
from .parse_json import parse_json_value, read_jsonl, to_arrow_column
from .render import render_csv, render_csv_header, render_jsonl

__all__ = [
    "BINARY_FORMATS",
    "CsvOptions",
    "TextCodecError",
    "parse_csv_column",
    "parse_json_value",
    "parse_text_column",
    "read_csv",
    "read_jsonl",
    "render_csv",
    "render_csv_header",
    "render_jsonl",
    "to_arrow_column",
]
