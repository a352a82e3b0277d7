"""CSV / JSON-lines text of every CQL type: exact renderings (DSBulk's conventions) and round trips.

Expected strings for dates, times and timestamps are what java.time's ISO formatters print (checked
with JDK 17: ISO_LOCAL_DATE, ISO_LOCAL_TIME, ISO_OFFSET_DATE_TIME in UTC); durations follow
Cassandra's Duration.toString.

Benchmark (not asserted), 2-core dev machine, pyarrow 26, a few runs each:
* 100,000 rows x 14 mixed primitive columns (int, bigint, text, double, float, boolean, uuid,
  timestamp, date, time, decimal, inet, varint, blob of 0-32 bytes): render_csv 175-195 ms
  (~520-570k rows/s, BASE64 blobs; ~660k rows/s with HEX), render_jsonl ~205 ms (~490k rows/s).
* 100,000 rows of list<int>, map<text, int> and a 3-field UDT: render_csv ~130 ms (~760k rows/s),
  render_jsonl ~60 ms (~1.6M rows/s).
* Reading the mixed CSV back: pyarrow.csv tokenizing ~55 ms plus parse_csv_column ~800 ms for all
  14 columns (~125k rows/s; uuid, time, varint, inet, decimal and blob still parse per value).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import io
import json
import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest
from cassandra import cqltypes
from cassandra.cqltypes import lookup_casstype

import cassandra_bulk_core.text_codecs as tc
from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.text_codecs import (
    CsvOptions,
    TextCodecError,
    parse_csv_column,
    parse_json_value,
    read_csv,
    read_jsonl,
    render_csv,
    render_csv_header,
    render_jsonl,
    to_arrow_column,
)
from cassandra_bulk_core.types import CQL_TYPE_KEY, DURATION_TYPE, arrow_field, column_type

I32, I64 = 2**31 - 1, 2**63 - 1
M = "org.apache.cassandra.db.marshal."


def fld(cql: str, arrow: pa.DataType, name: str = "c") -> pa.Field:
    return pa.field(name, arrow, metadata={CQL_TYPE_KEY: cql.encode()})


def addr_udt() -> Any:
    frozen_list = cqltypes.FrozenType.apply_parameters([cqltypes.ListType.apply_parameters([cqltypes.UTF8Type])])
    return cqltypes.UserType.make_udt_class(
        "ks", "addr", ["street", "zip", "tags"], [cqltypes.UTF8Type, cqltypes.Int32Type, frozen_list]
    )


def driver_field(cqltype: Any, name: str = "c") -> pa.Field:
    """The field exactly as the exporter builds it from driver metadata."""
    return arrow_field(name, column_type(cqltype))


def batch_of(field: pa.Field, values: Sequence[Any]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([to_arrow_column(list(values), field)], schema=pa.schema([field]))


def csv_text(value: str, quote: str = '"', escape: str = "\\") -> str:
    """Independent reference for quoting one cell (only used where a literal would be unreadable)."""
    specials = (",", quote, escape, "\r", "\n")
    if value and not any(c in value for c in specials) and value == value.strip(" \t"):
        return value
    body = value.replace(escape, escape * 2).replace(quote, escape + quote) if escape != quote else value
    return quote + (body.replace(quote, quote * 2) if escape == quote else body) + quote


def plain_type(t: pa.DataType) -> pa.DataType:
    """``t`` with temporal and uuid types as integers/bytes, so values outside datetime's range compare."""
    if isinstance(t, pa.BaseExtensionType):
        return t.storage_type
    if pa.types.is_date32(t):
        return pa.int32()
    if pa.types.is_time64(t) or pa.types.is_timestamp(t):
        return pa.int64()
    if pa.types.is_map(t):
        return pa.map_(plain_type(t.key_type), plain_type(t.item_type))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(plain_type(t.value_type), t.list_size)
    if pa.types.is_list(t):
        return pa.list_(plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([(t.field(i).name, plain_type(t.field(i).type)) for i in range(t.num_fields)])
    return t


def comparable(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)  # tells NaN and -0.0 apart from the rest
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, tuple):
        return tuple(comparable(v) for v in value)
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    return value


def assert_same(actual: pa.Array, expected: pa.Array) -> None:
    assert actual.type == expected.type
    plain = plain_type(expected.type)
    assert comparable(actual.cast(plain).to_pylist()) == comparable(expected.cast(plain).to_pylist())


def csv_cells(data: bytes, schema: pa.Schema, options: CsvOptions) -> pa.Table:
    """The raw cells of our CSV (unquoted empty = null, quoted "" = empty string): the shipped
    read_csv with every column read as text, which keeps each cell exactly as tokenized."""
    return read_csv(data, pa.schema([pa.field(name, pa.string()) for name in schema.names]), options)


# -- every type: exact CSV cell and JSON value ---------------------------------------------------

DUR = DURATION_TYPE
TUPLE_T = pa.struct([("f0", pa.int32()), ("f1", pa.string()), ("f2", pa.date32())])

# (cql, arrow, values, csv cells, json values); a CSV cell of None means "quote the JSON text".
CASES: list[tuple[str, pa.DataType, list[Any], list[str | None], list[str]]] = [
    (
        "text",
        pa.string(),
        ["plain", "", None, 'say "hi"', "a,b", "line\nbreak", "cr\rx", " lead", "trail ", "tab\t", "back\\slash",
         "ünïcødé ✓", "ctl\x01"],
        ["plain", '""', "", '"say \\"hi\\""', '"a,b"', '"line\nbreak"', '"cr\rx"', '" lead"', '"trail "', '"tab\t"',
         '"back\\\\slash"', "ünïcødé ✓", "ctl\x01"],
        ['"plain"', '""', "null", '"say \\"hi\\""', '"a,b"', '"line\\nbreak"', '"cr\\rx"', '" lead"', '"trail "',
         '"tab\\t"', '"back\\\\slash"', '"ünïcødé ✓"', '"ctl\\u0001"'],
    ),
    ("ascii", pa.string(), ["~ascii", ""], ["~ascii", '""'], ['"~ascii"', '""']),
    ("tinyint", pa.int8(), [-128, 127, 0, None], ["-128", "127", "0", ""], ["-128", "127", "0", "null"]),
    ("smallint", pa.int16(), [-32768, 32767], ["-32768", "32767"], ["-32768", "32767"]),
    ("int", pa.int32(), [-(2**31), I32], ["-2147483648", "2147483647"], ["-2147483648", "2147483647"]),
    ("bigint", pa.int64(), [-(2**63), I64], [str(-(2**63)), str(I64)], [str(-(2**63)), str(I64)]),
    ("counter", pa.int64(), [7, None], ["7", ""], ["7", "null"]),
    (
        "varint",
        pa.decimal128(38, 0),
        [decimal.Decimal(10**38 - 1), decimal.Decimal(-(10**38) + 1), decimal.Decimal(0), None],
        ["9" * 38, "-" + "9" * 38, "0", ""],
        ["9" * 38, "-" + "9" * 38, "0", "null"],
    ),
    (
        "decimal",
        pa.string(),
        ["1.23E+5", "-1E-30", "0.00000", "123456789012345678901234567890.5", None],
        ["1.23E+5", "-1E-30", "0.00000", "123456789012345678901234567890.5", ""],
        ["1.23E+5", "-1E-30", "0.00000", "123456789012345678901234567890.5", "null"],
    ),
    (
        "float",
        pa.float32(),
        [1.1, math.nan, math.inf, -math.inf, -0.0, 3.4028234663852886e38, 1.401298464324817e-45, 16777216.0, None],
        ["1.1", "NaN", "Infinity", "-Infinity", "-0.0", "3.4028235e+38", "1e-45", "16777216", ""],
        ["1.1", '"NaN"', '"Infinity"', '"-Infinity"', "-0.0", "3.4028235e+38", "1e-45", "16777216", "null"],
    ),
    (
        "double",
        pa.float64(),
        [0.1, 1e16, 5e-324, 1.7976931348623157e308, 123456789.0, 1e-05, -0.0, math.nan, None],
        ["0.1", "1e+16", "5e-324", "1.7976931348623157e+308", "123456789", "0.00001", "-0.0", "NaN", ""],
        ["0.1", "1e+16", "5e-324", "1.7976931348623157e+308", "123456789", "0.00001", "-0.0", '"NaN"', "null"],
    ),
    ("boolean", pa.bool_(), [True, False, None], ["true", "false", ""], ["true", "false", "null"]),
    (
        "blob",
        pa.binary(),
        [b"", b"\x00\xff", b"Man", bytes(range(250, 256)), None],
        ['""', "AP8=", "TWFu", "+vv8/f7/", ""],
        ['""', '"AP8="', '"TWFu"', '"+vv8/f7/"', "null"],
    ),
    (
        "uuid",
        pa.uuid(),
        [bytes(16), b"\xff" * 16, bytes.fromhex("50554D6E29BB11E5B345FEFF819CDC9F"), None],
        ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
         "50554d6e-29bb-11e5-b345-feff819cdc9f", ""],
        ['"00000000-0000-0000-0000-000000000000"', '"ffffffff-ffff-ffff-ffff-ffffffffffff"',
         '"50554d6e-29bb-11e5-b345-feff819cdc9f"', "null"],
    ),
    (
        "timeuuid",
        pa.uuid(),
        [bytes.fromhex("50554d6e29bb11e5b345feff819cdc9f")],
        ["50554d6e-29bb-11e5-b345-feff819cdc9f"],
        ['"50554d6e-29bb-11e5-b345-feff819cdc9f"'],
    ),
    (
        "inet",
        pa.string(),
        ["0.0.0.0", "2001:db8::ff00:42:8329", "::1", None],
        ["0.0.0.0", "2001:db8::ff00:42:8329", "::1", ""],
        ['"0.0.0.0"', '"2001:db8::ff00:42:8329"', '"::1"', "null"],
    ),
    (
        "date",
        pa.date32(),
        [0, -1, -719162, -719528, -719529, 2932896, 2932897, -(2**31), I32, None],
        ["1970-01-01", "1969-12-31", "0001-01-01", "0000-01-01", "-0001-12-31", "9999-12-31", "+10000-01-01",
         "-5877641-06-23", "+5881580-07-11", ""],
        ['"1970-01-01"', '"1969-12-31"', '"0001-01-01"', '"0000-01-01"', '"-0001-12-31"', '"9999-12-31"',
         '"+10000-01-01"', '"-5877641-06-23"', '"+5881580-07-11"', "null"],
    ),
    (
        "time",
        pa.time64("ns"),
        [0, 1, 120_000_000, 123_400_000, 59_000_000_000, 3_600_000_000_500, 86_399_999_999_999, None],
        ["00:00:00", "00:00:00.000000001", "00:00:00.12", "00:00:00.1234", "00:00:59", "01:00:00.0000005",
         "23:59:59.999999999", ""],
        ['"00:00:00"', '"00:00:00.000000001"', '"00:00:00.12"', '"00:00:00.1234"', '"00:00:59"',
         '"01:00:00.0000005"', '"23:59:59.999999999"', "null"],
    ),
    (
        "timestamp",
        pa.timestamp("ms", tz="UTC"),
        [0, 120, 123, -1, -999, -1000, 1704067200000, 253402300799999, 253402300800000, -62135596800000,
         -62167219200000, -62167219200001, I64, -(2**63), None],
        ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.12Z", "1970-01-01T00:00:00.123Z", "1969-12-31T23:59:59.999Z",
         "1969-12-31T23:59:59.001Z", "1969-12-31T23:59:59Z", "2024-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z",
         "+10000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-0001-12-31T23:59:59.999Z",
         "+292278994-08-17T07:12:55.807Z", "-292275055-05-16T16:47:04.192Z", ""],
        ['"1970-01-01T00:00:00Z"', '"1970-01-01T00:00:00.12Z"', '"1970-01-01T00:00:00.123Z"',
         '"1969-12-31T23:59:59.999Z"', '"1969-12-31T23:59:59.001Z"', '"1969-12-31T23:59:59Z"',
         '"2024-01-01T00:00:00Z"', '"9999-12-31T23:59:59.999Z"', '"+10000-01-01T00:00:00Z"',
         '"0001-01-01T00:00:00Z"', '"0000-01-01T00:00:00Z"', '"-0001-12-31T23:59:59.999Z"',
         '"+292278994-08-17T07:12:55.807Z"', '"-292275055-05-16T16:47:04.192Z"', "null"],
    ),
    (
        "duration",
        DUR,
        [
            {"months": 1, "days": 2, "nanoseconds": 3}, {"months": -1, "days": -2, "nanoseconds": -3},
            {"months": 14, "days": 0, "nanoseconds": 0}, {"months": 0, "days": 0, "nanoseconds": 3723004005006},
            {"months": 0, "days": 0, "nanoseconds": 0}, {"months": 0, "days": 7, "nanoseconds": 0},
            {"months": I32, "days": I32, "nanoseconds": I64}, {"months": -I32, "days": 0, "nanoseconds": -1000}, None,
        ],
        ["1mo2d3ns", "-1mo2d3ns", "1y2mo", "1h2m3s4ms5us6ns", "0s", "7d",
         "178956970y7mo2147483647d2562047h47m16s854ms775us807ns", "-178956970y7mo1us", ""],
        ['"1mo2d3ns"', '"-1mo2d3ns"', '"1y2mo"', '"1h2m3s4ms5us6ns"', '"0s"', '"7d"',
         '"178956970y7mo2147483647d2562047h47m16s854ms775us807ns"', '"-178956970y7mo1us"', "null"],
    ),
    ("list<int>", pa.list_(pa.int32()), [[1, -2], [], None, [7]], ['"[1,-2]"', "[]", "", "[7]"],
     ["[1,-2]", "[]", "null", "[7]"]),
    (
        "set<text>",
        pa.list_(pa.string()),
        [["a", 'q"', "ü"], []],
        [None, "[]"],
        ['["a","q\\"","ü"]', "[]"],
    ),
    (
        "map<text, int>",
        pa.map_(pa.string(), pa.int32()),
        [[("k", 1), ("ü", -1)], [], None, [("", None)]],
        ['"{\\"k\\":1,\\"ü\\":-1}"', "{}", "", None],
        ['{"k":1,"ü":-1}', "{}", "null", '{"":null}'],
    ),
    (
        "map<int, date>",
        pa.map_(pa.int32(), pa.date32()),
        [[(1, -1), (-5, I32)]],
        [None],
        ['{"1":"1969-12-31","-5":"+5881580-07-11"}'],
    ),
    (
        "map<frozen<tuple<int, text>>, blob>",
        pa.map_(pa.struct([("f0", pa.int32()), ("f1", pa.string())]), pa.binary()),
        [[({"f0": 1, "f1": 'a"b'}, b"\x01")]],
        [None],
        ['{"[1,\\"a\\\\\\"b\\"]":"AQ=="}'],
    ),
    (
        "map<timestamp, double>",
        pa.map_(pa.timestamp("ms", tz="UTC"), pa.float64()),
        [[(0, math.nan), (-(2**63), -math.inf)]],
        [None],
        ['{"1970-01-01T00:00:00Z":"NaN","-292275055-05-16T16:47:04.192Z":"-Infinity"}'],
    ),
    (
        "frozen<tuple<int, text, date>>",
        TUPLE_T,
        [{"f0": 1, "f1": "x", "f2": 0}, {"f0": None, "f1": None, "f2": None}, None],
        ['"[1,\\"x\\",\\"1970-01-01\\"]"', '"[null,null,null]"', ""],
        ['[1,"x","1970-01-01"]', "[null,null,null]", "null"],
    ),
    (
        "list<uuid>",
        pa.list_(pa.uuid()),
        [[bytes(16), b"\xff" * 16]],
        [None],
        ['["00000000-0000-0000-0000-000000000000","ffffffff-ffff-ffff-ffff-ffffffffffff"]'],
    ),
    (
        "map<text, duration>",
        pa.map_(pa.string(), DUR),
        [[("a", {"months": 0, "days": 1, "nanoseconds": 1}), ("z", {"months": 0, "days": 0, "nanoseconds": 0})]],
        [None],
        ['{"a":"1d1ns","z":"0s"}'],
    ),
    (
        "list<frozen<map<int, date>>>",
        pa.list_(pa.map_(pa.int32(), pa.date32())),
        [[[(1, -1)], []], []],
        [None, "[]"],
        ['[{"1":"1969-12-31"},{}]', "[]"],
    ),
    (
        "set<time>",
        pa.list_(pa.time64("ns")),
        [[0, 86_399_999_999_999]],
        [None],
        ['["00:00:00","23:59:59.999999999"]'],
    ),
    (
        "vector<float, 3>",
        pa.list_(pa.float32(), 3),
        [[1.5, -0.0, 3.4028234663852886e38], [math.nan, math.inf, -math.inf], None],
        ['"[1.5, -0.0, 3.4028235e+38]"', '"[\\"NaN\\", \\"Infinity\\", \\"-Infinity\\"]"', ""],
        ["[1.5,-0.0,3.4028235e+38]", '["NaN","Infinity","-Infinity"]', "null"],
    ),
    (
        "vector<text, 2>",
        pa.list_(pa.string(), 2),
        [["a", "ü"], ["", ""]],
        ['"[\\"a\\", \\"ü\\"]"', '"[\\"\\", \\"\\"]"'],
        ['["a","ü"]', '["",""]'],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("cql", "arrow", "values", "cells", "jsons"), CASES, ids=[c[0] for c in CASES])
def test_render_exact(
    cql: str, arrow: pa.DataType, values: list[Any], cells: list[str | None], jsons: list[str]
) -> None:
    batch = batch_of(fld(cql, arrow), values)
    expected_cells = [csv_text(j) if c is None else c for c, j in zip(cells, jsons, strict=True)]
    assert render_csv(batch, CsvOptions()).decode() == "".join(c + "\n" for c in expected_cells)
    lines = render_jsonl(batch).decode()
    assert lines == "".join('{"c":' + j + "}\n" for j in jsons)
    for line in lines.splitlines():
        json.loads(line)  # every line is valid JSON


@pytest.mark.parametrize(("cql", "arrow", "values"), [c[:3] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("binary_format", ["BASE64", "HEX"])
def test_round_trip_every_type(cql: str, arrow: pa.DataType, values: list[Any], binary_format: str) -> None:
    field = fld(cql, arrow)
    batch = batch_of(field, values)
    original = batch.column(0)
    options = CsvOptions(binary_format=binary_format)

    # CSV: our text read back by the shipped reader (vectorized), and its cells parsed per value.
    data = render_csv_header(batch.schema, options) + render_csv(batch, options)
    assert_same(read_csv(data, batch.schema, options).column("c").combine_chunks(), original)
    cells = csv_cells(data, batch.schema, options).column("c")
    assert_same(parse_csv_column(cells.to_pylist(), field, options), original)

    # JSON lines, loaded the way a loader should (exact decimals).
    table = read_jsonl(render_jsonl(batch, binary_format), batch.schema, binary_format)
    assert_same(table.column("c").combine_chunks(), original)


def test_blob_hex_format() -> None:
    batch = batch_of(fld("blob", pa.binary()), [b"", b"\x00\xff", None, b"\xab\xcd"])
    assert render_csv(batch, CsvOptions(binary_format="hex")) == b"0x\n0x00ff\n\n0xabcd\n"
    assert render_jsonl(batch, "HEX") == b'{"c":"0x"}\n{"c":"0x00ff"}\n{"c":null}\n{"c":"0xabcd"}\n'


# -- UDTs and nesting, with fields built by types.py from driver metadata ----------------------------


def test_udt_and_nested_udt_in_list_in_map() -> None:
    addr = addr_udt()
    frozen_addr = cqltypes.FrozenType.apply_parameters([addr])
    fl = cqltypes.ListType.apply_parameters(
        [cqltypes.FrozenType.apply_parameters([cqltypes.MapType.apply_parameters([cqltypes.UTF8Type, frozen_addr])])]
    )
    ud, nested = driver_field(frozen_addr, "ud"), driver_field(fl, "fl")
    schema = pa.schema([ud, nested])
    rows = {
        "ud": [{"street": "s", "zip": 1, "tags": ["x", "y"]}, {"street": "n,", "zip": None, "tags": []}, None],
        "fl": [[{"m": {"street": "q", "zip": 3, "tags": None}}], [], [{}, {"k": None}]],
    }
    batch = pa.RecordBatch.from_arrays([to_arrow_column(rows[f.name], f) for f in schema], schema=schema)
    assert render_jsonl(batch).decode().splitlines() == [
        '{"ud":{"street":"s","zip":1,"tags":["x","y"]},"fl":[{"m":{"street":"q","zip":3,"tags":null}}]}',
        '{"ud":{"street":"n,","zip":null,"tags":[]},"fl":[]}',
        '{"ud":null,"fl":[{},{"k":null}]}',
    ]
    assert render_csv(batch, CsvOptions()).decode().splitlines() == [
        '"{\\"street\\":\\"s\\",\\"zip\\":1,\\"tags\\":[\\"x\\",\\"y\\"]}",'
        '"[{\\"m\\":{\\"street\\":\\"q\\",\\"zip\\":3,\\"tags\\":null}}]"',
        '"{\\"street\\":\\"n,\\",\\"zip\\":null,\\"tags\\":[]}",[]',
        ',"[{},{\\"k\\":null}]"',
    ]
    options = CsvOptions()
    table = read_csv(render_csv_header(schema, options) + render_csv(batch, options), schema, options)
    for f in schema:
        assert_same(table.column(f.name).combine_chunks(), batch.column(f.name))


def test_udt_fields_have_no_cql_type_so_strings_stay_strings() -> None:
    # types.py puts cql_type on top-level fields only: a decimal inside a UDT is just a string there.
    udt = pa.struct([("amount", pa.string()), ("n", pa.int32())])
    batch = batch_of(fld("money", udt), [{"amount": "1.50", "n": 2}])
    assert render_jsonl(batch) == b'{"c":{"amount":"1.50","n":2}}\n'
    # A child field that does name its CQL type is rendered by it.
    typed = pa.struct([pa.field("amount", pa.string(), metadata={CQL_TYPE_KEY: b"decimal"}), ("n", pa.int32())])
    assert render_jsonl(batch_of(fld("money", typed), [{"amount": "1.50", "n": 2}])) == b'{"c":{"amount":1.50,"n":2}}\n'


def test_driver_built_fields_render_like_hand_built_ones() -> None:
    for marshal, arrow, value, text in [
        ("SimpleDateType", pa.date32(), -1, "1969-12-31"),
        ("TimestampType", pa.timestamp("ms", tz="UTC"), 1, "1970-01-01T00:00:00.001Z"),
        ("DecimalType", pa.string(), "1E+3", "1E+3"),
        (f"VectorType({M}FloatType,2)", pa.list_(pa.float32(), 2), [0.5, 2.0], '"[0.5, 2]"'),
        (f"ReversedType({M}TimeUUIDType)", pa.uuid(), b"\x01" * 16, "01010101-0101-0101-0101-010101010101"),
    ]:
        field = driver_field(lookup_casstype(M + marshal))
        assert field.type == arrow
        assert render_csv(batch_of(field, [value]), CsvOptions()).decode() == text + "\n"


# -- CSV options ---------------------------------------------------------------------------------------


def test_doubled_quotes_when_escape_is_the_quote() -> None:
    batch = batch_of(fld("text", pa.string()), ['say "hi"', "back\\slash", "", None, "x\ny"])
    options = CsvOptions(escape='"')
    assert render_csv(batch, options) == b'"say ""hi"""\nback\\slash\n""\n\n"x\ny"\n'
    table = read_csv(render_csv_header(batch.schema, options) + render_csv(batch, options), batch.schema, options)
    assert table.column("c").to_pylist() == batch.column(0).to_pylist()


def test_null_string_and_text_equal_to_it() -> None:
    schema = pa.schema([fld("text", pa.string(), "t"), fld("int", pa.int32(), "i")])
    batch = pa.RecordBatch.from_arrays(
        [pa.array(["NULL", None, ""]), pa.array([None, 1, 2], pa.int32())], schema=schema
    )
    options = CsvOptions(null_string="NULL")
    assert render_csv(batch, options) == b'"NULL",NULL\nNULL,1\n"",2\n'
    table = read_csv(render_csv_header(schema, options) + render_csv(batch, options), schema, options)
    assert table.column("t").to_pylist() == ["NULL", None, ""]
    assert table.column("i").to_pylist() == [None, 1, 2]


def test_delimiters_newline_and_header() -> None:
    schema = pa.schema(
        [fld("text", pa.string(), "id"), fld("text", pa.string(), "a,b"), fld("text", pa.string(), 'q"')]
    )
    batch = pa.RecordBatch.from_arrays([pa.array(["a|b"]), pa.array(["a,b"]), pa.array(["x||y"])], schema=schema)
    assert render_csv_header(schema, CsvOptions()) == b'id,"a,b","q\\""\n'
    assert render_csv(batch, CsvOptions(delimiter="|", newline="\r\n")) == b'"a|b"|a,b|"x||y"\r\n'
    assert render_csv_header(schema, CsvOptions(delimiter=";", quote="'")) == b'id;a,b;q"\n'


@pytest.mark.parametrize(("name", "value"), [("quote", '""'), ("escape", "")])
def test_csv_quote_and_escape_are_single_characters(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"CSV {name} must be a single character, not {value!r}"):
        CsvOptions(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delimiter": ""}, "delimiter must be one or more characters"),
        ({"delimiter": '|"'}, "delimiter must not hold the quote"),
        ({"comment": "##"}, "comment must be a single character"),
        ({"comment": ","}, "comment must not be the delimiter"),
        ({"null_strings": ("a,b",)}, "null string must not contain the delimiter"),
        ({"skip_records": -1}, "must not be negative"),
    ],
)
def test_csv_reading_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CsvOptions(**options)


def test_multi_character_delimiters_round_trip() -> None:
    """DSBulk takes multi-character delimiters (``||``, ``, ``): a value holding the delimiter,
    or a piece of it, is quoted and reads back exactly; comments are skipped, not in quotes."""
    schema = pa.schema(
        [fld("int", pa.int32(), "i"), fld("text", pa.string(), "t"), fld("list<text>", pa.list_(pa.string()), "l")]
    )
    texts = ["a||b", "|", 'q"||', "x\n# not a comment", ""]
    batch = pa.RecordBatch.from_arrays(
        [pa.array(range(5), pa.int32()), pa.array(texts), pa.array([["||"], [], None, ["a", "b"], ["|"]])],
        schema=schema,
    )
    for delimiter in ("||", ", ", "<>", "\t\t"):
        options = CsvOptions(delimiter=delimiter)
        data = render_csv_header(schema, options) + render_csv(batch, options)
        assert read_csv(data, schema, options).to_batches()[0].equals(batch), delimiter
        commented = b"# a comment\n" + data.replace(b"\n1", b"\n#x,y\n1")
        back = read_csv(commented, schema, CsvOptions(delimiter=delimiter, comment="#"))
        assert back.to_batches()[0].equals(batch), delimiter


def test_comment_lines_inside_quoted_values_are_data() -> None:
    from cassandra_bulk_core.codecs.csv_lines import CsvLineRewriter

    rewriter = CsvLineRewriter(CsvOptions(delimiter="::", comment="#"))
    lines = ["# skipped\n", 'a::"x\n', "# kept: inside quotes\n", 'y\\"::z"::b\n', "#again\n", "c::d"]
    assert list(rewriter.lines(iter(lines))) == [
        'a\x1f"x\n',
        "# kept: inside quotes\n",
        'y\\"::z"\x1fb\n',
        "c\x1fd",
    ]
    assert rewriter.restore("c\x1fd") == "c::d"


def test_read_csv_takes_bytes_a_stream_or_a_path(tmp_path: Any) -> None:
    schema = pa.schema([fld("int", pa.int32(), "i"), fld("text", pa.string(), "t")])
    batch = pa.RecordBatch.from_arrays([pa.array([1, None], pa.int32()), pa.array(["a\nb", ""])], schema=schema)
    options = CsvOptions(delimiter=";", header=False)
    data = render_csv(batch, options)
    (tmp_path / "x.csv").write_bytes(data)
    for source in (data, bytearray(data), io.BytesIO(data), pa.BufferReader(data), str(tmp_path / "x.csv")):
        table = read_csv(source, schema, options)
        assert table.schema == schema and table.to_pylist() == batch.to_pylist()


def test_numbers_are_quoted_when_the_delimiter_could_appear_in_them() -> None:
    schema = pa.schema([fld("double", pa.float64(), "d"), fld("time", pa.time64("ns"), "t")])
    batch = pa.RecordBatch.from_arrays([pa.array([1.5]), pa.array([0], pa.time64("ns"))], schema=schema)
    assert render_csv(batch, CsvOptions(delimiter=".")) == b'"1.5".00:00:00\n'
    assert render_csv(batch, CsvOptions(delimiter=":")) == b'1.5:"00:00:00"\n'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"binary_format": "b64"},
        {"delimiter": ""},
        {"delimiter": '"'},
        {"quote": "''"},
        {"escape": ""},
        {"newline": "x"},
        {"null_string": "a,b"},
        {"null_string": "\n"},
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CsvOptions(**kwargs)


def test_binary_format_is_case_insensitive() -> None:
    assert CsvOptions(binary_format="hex").binary_format == "HEX"
    assert parse_json_value("0x01", fld("blob", pa.binary()), binary_format="hex") == b"\x01"
    batch = batch_of(fld("int", pa.int32()), [1])
    for call in (
        lambda: render_jsonl(batch, "base32"),
        lambda: parse_json_value(1, fld("int", pa.int32()), binary_format="base32"),
        lambda: read_jsonl(b'{"c":1}\n', batch.schema, "base32"),
        lambda: CsvOptions(binary_format="base32"),
    ):
        with pytest.raises(ConfigError, match="unknown binary format 'base32'; one of BASE64, HEX"):
            call()


# -- batches: empty, sliced, chunked --------------------------------------------------------------------


def mixed_batch() -> pa.RecordBatch:
    columns = [c for c in CASES if len(c[2]) >= 2]
    fields = [fld(cql, arrow, f"c{i}") for i, (cql, arrow, *_) in enumerate(columns)]
    n = min(len(c[2]) for c in columns)
    arrays = [to_arrow_column(c[2][:n], f) for c, f in zip(columns, fields, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def test_sliced_batches_render_like_fresh_ones() -> None:
    batch = mixed_batch()
    assert batch.num_rows >= 2
    for start, length in [(1, 1), (0, 1), (1, batch.num_rows - 1)]:
        piece = batch.slice(start, length)
        fresh = batch.take(pa.array(range(start, start + length)))
        for options in (CsvOptions(), CsvOptions(binary_format="HEX", escape='"', null_string="N")):
            assert render_csv(piece, options) == render_csv(fresh, options)
        assert render_jsonl(piece) == render_jsonl(fresh)
        assert render_jsonl(piece, "HEX") == render_jsonl(fresh, "HEX")


def test_chunking_does_not_change_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = mixed_batch()
    csv, jsonl = render_csv(batch, CsvOptions()), render_jsonl(batch)
    from cassandra_bulk_core.codecs import render

    monkeypatch.setattr(render, "_CHUNK_ROWS", 1)
    assert render_csv(batch, CsvOptions()) == csv
    assert render_jsonl(batch) == jsonl


def test_empty_batches_and_schemas() -> None:
    field = fld("int", pa.int32())
    empty = pa.RecordBatch.from_arrays([pa.array([], pa.int32())], schema=pa.schema([field]))
    assert render_csv(empty, CsvOptions()) == b""
    assert render_jsonl(empty) == b""
    no_columns = pa.RecordBatch.from_pydict({}).slice(0, 0)
    assert render_jsonl(no_columns) == b""


# -- parsing: DSBulk's inputs, leniency and errors -------------------------------------------------------


def parse1(text: str | None, cql: str, arrow: pa.DataType, **options: Any) -> Any:
    arr = parse_csv_column([text], fld(cql, arrow), CsvOptions(**options))
    return arr.cast(plain_type(arrow)).to_pylist()[0]


TS = pa.timestamp("ms", tz="UTC")


@pytest.mark.parametrize(
    ("text", "cql", "arrow", "expected"),
    [
        ("", "int", pa.int32(), None),  # DSBulk: empty is null for non-text types
        ("", "text", pa.string(), ""),
        ("", "blob", pa.binary(), b""),
        ("", "duration", DUR, {"months": 0, "days": 0, "nanoseconds": 0}),  # DSBulk's zero duration
        ("", "date", pa.date32(), None),
        (" 7 ", "int", pa.int32(), 7),
        ("1.0", "int", pa.int32(), 1),
        ("1E3", "smallint", pa.int16(), 1000),
        ("+5", "bigint", pa.int64(), 5),
        ("1e37", "varint", pa.decimal128(38, 0), decimal.Decimal(10**37)),
        ("Y", "boolean", pa.bool_(), True),
        ("no", "boolean", pa.bool_(), False),
        ("0", "boolean", pa.bool_(), False),
        ("TRUE", "boolean", pa.bool_(), True),
        ("1.0E16", "double", pa.float64(), 1e16),
        ("-0.0", "double", pa.float64(), -0.0),
        ("Infinity", "float", pa.float32(), math.inf),
        ("1.0e3", "decimal", pa.string(), "1.0E+3"),
        ("  12.50 ", "decimal", pa.string(), "12.50"),
        ("2001:db8:0:0:0:ff00:42:8329", "inet", pa.string(), "2001:db8::ff00:42:8329"),
        ("50554D6E-29BB-11E5-B345-FEFF819CDC9F", "uuid", pa.uuid(), bytes.fromhex("50554d6e29bb11e5b345feff819cdc9f")),
        ("TWE", "blob", pa.binary(), b"Ma"),  # Java's decoder takes unpadded BASE64
        ("+5881580-07-11", "date", pa.date32(), I32),
        ("5881580-07-11", "date", pa.date32(), I32),
        ("2000-02-29", "date", pa.date32(), 11016),
        ("12:34", "time", pa.time64("ns"), 45_240_000_000_000),
        ("12:34:56.1", "time", pa.time64("ns"), 45_296_100_000_000),
        ("45296000000000", "time", pa.time64("ns"), 45_296_000_000_000),
        ("2024-01-01T00:00:00Z", "timestamp", TS, 1704067200000),
        ("2024-01-01 01:00:00.5+01:00", "timestamp", TS, 1704067200500),
        ("2024-01-01T05:30:00+0530", "timestamp", TS, 1704067200000),
        ("2024-01-01", "timestamp", TS, 1704067200000),
        ("2024-01-01T00:00", "timestamp", TS, 1704067200000),
        ("2024-01-01T00:00:00.123987654Z", "timestamp", TS, 1704067200123),  # sub-millisecond digits dropped
        ("1704067200000", "timestamp", TS, 1704067200000),
        ("-1", "timestamp", TS, -1),
        ("2024-01-01 00:00:00 UTC", "timestamp", TS, 1704067200000),
        ("P1Y2M3DT4H5M6S", "duration", DUR, {"months": 14, "days": 3, "nanoseconds": 14_706_000_000_000}),
        ("P2W", "duration", DUR, {"months": 0, "days": 14, "nanoseconds": 0}),
        ("-P0001-02-03T04:05:06", "duration", DUR, {"months": -14, "days": -3, "nanoseconds": -14_706_000_000_000}),
        ("-1h30m", "duration", DUR, {"months": 0, "days": 0, "nanoseconds": -5_400_000_000_000}),
        ("1µs", "duration", DUR, {"months": 0, "days": 0, "nanoseconds": 1000}),
        ("2W1D", "duration", DUR, {"months": 0, "days": 15, "nanoseconds": 0}),
        (
            "1y2mo3w4d5h6m7s8ms9us10ns",
            "duration",
            DUR,
            {"months": 14, "days": 25, "nanoseconds": 18_367_008_009_010},
        ),
        ("1,2,3", "list<int>", pa.list_(pa.int32()), [1, 2, 3]),  # DSBulk DAT-317: brackets optional
        ('"a":1', "map<text, int>", pa.map_(pa.string(), pa.int32()), [("a", 1)]),
        ('{"2000-01-01":"0x00"}', "map<date, blob>", pa.map_(pa.date32(), pa.binary()), None),
        ("[1, NaN, -Infinity]", "list<double>", pa.list_(pa.float64()), [1.0, math.nan, -math.inf]),
        ('{"zip":5}', "addr", pa.struct([("street", pa.string()), ("zip", pa.int32())]), {"street": None, "zip": 5}),
        ('["s", 5]', "addr", pa.struct([("street", pa.string()), ("zip", pa.int32())]), {"street": "s", "zip": 5}),
    ],
)
def test_parse_accepts_dsbulk_inputs(text: str, cql: str, arrow: pa.DataType, expected: Any) -> None:
    if cql == "map<date, blob>":
        # keys are text even for non-text types; blob values use the configured format
        assert parse1(text, cql, arrow, binary_format="HEX") == [(10957, b"\x00")]
        return
    assert comparable(parse1(text, cql, arrow)) == comparable(expected)


def test_float32_is_rounded_from_the_decimal_not_through_a_double() -> None:
    # 1 + 2**-24 is halfway between the float32 values 1 and 1 + 2**-23; a decimal a hair above it
    # parses to exactly that double, and rounding the double would give 1 (ties to even).
    text = str(decimal.Decimal(1 + 2**-24) + decimal.Decimal(2) ** -80)
    # Both texts carry more digits than a float holds: rounding them needs allow_precision_loss
    # (DSBulk's overflowStrategy TRUNCATE); by default they are rejected.
    field = fld("float", pa.float32())
    lossy = CsvOptions(allow_precision_loss=True)
    assert parse_csv_column([text], field, lossy).to_pylist() == [1 + 2**-23]
    assert parse_csv_column(pa.array([text]), field, lossy).to_pylist() == [1 + 2**-23]
    assert parse_json_value(decimal.Decimal(text), field, allow_precision_loss=True) == 1 + 2**-23
    exact_tie = str(decimal.Decimal(1 + 2**-24))
    assert parse_csv_column([exact_tie], field, lossy).to_pylist() == [1.0]
    with pytest.raises(TextCodecError, match="loses precision"):
        parse_csv_column(pa.array([text]), field)


F32_MAX = 3.4028234663852886e38


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.4028235e38", F32_MAX),  # above the largest float32, but rounds to it
        ("-3.40282356e38", -F32_MAX),  # just below the midpoint to 2**128
        ("7.1e-46", 1.401298464324817e-45),  # just above half the smallest subnormal
        ("7e-46", 0.0),
        ("-Infinity", -math.inf),
        ("+nan", math.nan),
        (".5", 0.5),
        ("1.", 1.0),
    ],
)
def test_float32_parse_is_arrows_cast_on_both_paths(text: str, expected: float) -> None:
    # Rounding (allowed here) is Arrow's cast on both paths; by default a rounded value is refused.
    field = fld("float", pa.float32())
    lossy = CsvOptions(allow_precision_loss=True)
    for values in ([text], pa.array([text])):
        assert comparable(parse_csv_column(values, field, lossy).to_pylist()) == [comparable(expected)]
    assert comparable(parse_json_value(text, field, allow_precision_loss=True)) == comparable(expected)
    rounded = math.isfinite(expected) and decimal.Decimal(text) != decimal.Decimal(tc._shortest(expected, "float"))
    for values in ([text], pa.array([text])):
        if rounded:
            with pytest.raises(TextCodecError, match="loses precision"):
                parse_csv_column(values, field)
        else:
            assert comparable(parse_csv_column(values, field).to_pylist()) == [comparable(expected)]


@pytest.mark.parametrize("text", ["3.40282357e38", "-3.5e38", "1" * 40])
def test_float32_overflow_is_an_error_on_both_paths(text: str) -> None:
    # The finite decimal rounds to infinity in float32: refused, never stored as infinity.
    field = fld("float", pa.float32())
    for values in (["1", text], pa.array(["1", text])):
        with pytest.raises(TextCodecError, match="out of range for float") as info:
            parse_csv_column(values, field)
        assert info.value.row == 1
    with pytest.raises(TextCodecError, match="out of range for float"):
        parse_json_value(decimal.Decimal(text), field)


def test_min_duration_round_trips() -> None:
    # months -2**31 and nanoseconds -2**63 render fine but used to fail to parse ("too large").
    field = fld("duration", DUR)
    lowest = {"months": -(2**31), "days": -(2**31), "nanoseconds": -(2**63)}
    batch = batch_of(field, [lowest, {"months": -(2**31), "days": 0, "nanoseconds": 0}])
    text = render_csv(batch, CsvOptions()).decode().splitlines()
    assert text == ["-178956970y8mo2147483648d2562047h47m16s854ms775us808ns", "-178956970y8mo"]
    assert parse_csv_column(text, field).to_pylist() == batch.column(0).to_pylist()
    assert read_jsonl(render_jsonl(batch), batch.schema).column("c").to_pylist() == batch.column(0).to_pylist()
    # One further is still too large, either way round.
    for too_large in (
        "178956970y8mo",
        "2147483648d",
        "-2147483649d",
        "-P2147483649D",
        "-2562047h47m16s854ms775us809ns",
    ):
        with pytest.raises(TextCodecError, match="too large"):
            parse_csv_column([too_large], field)


def test_timestamp_ns_renders_and_round_trips() -> None:
    # The years-0000..9999 bounds overflowed int64 for nanoseconds: rendering crashed.
    field = fld("timestamp", pa.timestamp("ns", tz="UTC"))
    batch = batch_of(field, [0, -1, 1_704_067_200_123_456_789, I64, -(2**63), None])
    cells = [
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999999Z",
        "2024-01-01T00:00:00.123456789Z",
        "2262-04-11T23:47:16.854775807Z",
        "1677-09-21T00:12:43.145224192Z",
        "",
    ]
    assert render_csv(batch, CsvOptions()).decode().splitlines() == cells
    assert render_jsonl(batch).decode().splitlines()[1] == '{"c":"1969-12-31T23:59:59.999999999Z"}'
    options = CsvOptions(header=False)
    assert_same(
        read_csv(render_csv(batch, options), batch.schema, options).column("c").combine_chunks(), batch.column(0)
    )
    assert_same(parse_csv_column(cells, field), batch.column(0))
    assert_same(read_jsonl(render_jsonl(batch), batch.schema).column("c").combine_chunks(), batch.column(0))
    for unit in ("s", "us"):
        other = batch_of(fld("timestamp", pa.timestamp(unit, tz="UTC")), [I64, -(2**63)])
        assert render_csv(other, CsvOptions()).count(b"\n") == 2


def test_read_jsonl_splits_records_on_newline_only() -> None:
    # U+2028, U+2029 and U+0085 are written raw inside JSON strings; str.splitlines() splits at them.
    schema = pa.schema([fld("int", pa.int32(), "i"), fld("text", pa.string(), "t")])
    texts = ["\u2028é", "a\u2029b\x85c", "line\nbreak", ""]
    batch = pa.RecordBatch.from_arrays([pa.array(range(4), pa.int32()), pa.array(texts)], schema=schema)
    data = render_jsonl(batch)
    assert len(data.decode().splitlines()) > 4  # what the old str-lines interface led callers into
    for source in (data, io.BytesIO(data), pa.BufferReader(data), data.split(b"\n"), iter(io.BytesIO(data))):
        table = read_jsonl(source, schema)
        assert table.column("t").to_pylist() == texts and table.column("i").to_pylist() == [0, 1, 2, 3]
    assert read_jsonl(data.replace(b"\n", b"\r\n") + b"\n\n", schema).num_rows == 4  # CRLF, blank lines
    for wrong in (data.decode(), data.decode().splitlines()):
        with pytest.raises(TypeError, match="read_jsonl takes bytes"):
            read_jsonl(wrong, schema)


@pytest.mark.parametrize(
    ("text", "cql", "arrow", "reason"),
    [
        ("abc", "int", pa.int32(), "invalid literal"),
        ("128", "tinyint", pa.int8(), "out of range (-128..127)"),
        ("1.5", "int", pa.int32(), "not an integer"),
        ("1" * 39, "varint", pa.decimal128(38, 0), "more than 38 digits"),
        ("1_000", "double", pa.float64(), "invalid literal"),
        ("1e39", "float", pa.float32(), "out of range for float"),
        ("1e309", "double", pa.float64(), "out of range for double"),
        ("NaN", "decimal", pa.string(), "cannot be NaN"),
        ("maybe", "boolean", pa.bool_(), "expected true/false"),
        ("2024-02-30", "date", pa.date32(), "no such calendar date"),
        ("5881580-07-12", "date", pa.date32(), "outside the CQL date range"),
        ("24:00", "time", pa.time64("ns"), "no such time of day"),
        ("2024-01-01T00:00:00+19:00", "timestamp", TS, "invalid UTC offset"),
        ("yesterday", "timestamp", TS, "expected an ISO-8601 date-time"),
        ("1h1d", "duration", DUR, "out of order"),
        ("1h1h", "duration", DUR, "repeated"),
        ("abc", "duration", DUR, "expected a duration"),
        ("300000000y", "duration", DUR, "too large"),
        ("not-a-uuid", "uuid", pa.uuid(), "expected 8-4-4-4-12"),
        ("00000000-0000-4000-8000-000000000000", "timeuuid", pa.uuid(), "not a version 1"),
        ("1.2.3", "inet", pa.string(), "not an IPv4 or IPv6 address"),
        ("ü", "ascii", pa.string(), "non-ASCII"),
        ("!!", "blob", pa.binary(), "invalid BASE64"),
        ("[1,2]", "vector<int, 3>", pa.list_(pa.int32(), 3), "expected 3 elements, got 2"),
        ('{"x":1}', "addr", pa.struct([("street", pa.string())]), "unknown field 'x'"),
        ("[1,", "list<int>", pa.list_(pa.int32()), "invalid JSON"),
        ('{"":1}', "map<int, int>", pa.map_(pa.int32(), pa.int32()), "a map key cannot be null"),
    ],
)
def test_parse_errors_name_value_type_and_reason(text: str, cql: str, arrow: pa.DataType, reason: str) -> None:
    with pytest.raises(TextCodecError) as info:
        parse_csv_column(["", text], fld(cql, arrow))
    err = info.value
    assert isinstance(err, ValueError)
    assert str(err).startswith(f"cannot parse {text!r} as {cql}: ")
    assert reason in str(err)
    assert err.row == 1 and err.value == text and err.cql_type == cql


@pytest.mark.parametrize(
    ("texts", "cql", "arrow", "message"),
    [
        (["1", "2", "abc"], "int", pa.int32(), "cannot parse 'abc' as int: invalid literal"),
        (["1", "", "1e39"], "float", pa.float32(), "cannot parse '1e39' as float: out of range for float"),
        (["0", "", "1e309"], "double", pa.float64(), "cannot parse '1e309' as double: out of range for double"),
        (["1", "0", "maybe"], "boolean", pa.bool_(), "cannot parse 'maybe' as boolean: expected true/false"),
        (["1970-01-01", "", "2024-02-30"], "date", pa.date32(), "cannot parse '2024-02-30' as date: no such"),
        (["1970-01-01T00:00:00Z", "", "x"], "timestamp", TS, "cannot parse 'x' as timestamp: expected an ISO"),
        (["1", "", "\u0661"], "int", pa.int32(), "cannot parse '\u0661' as int: invalid literal"),  # Arabic-Indic 1
    ],
)
def test_vectorized_input_errors_the_same_way(texts: list[str], cql: str, arrow: pa.DataType, message: str) -> None:
    with pytest.raises(TextCodecError) as info:
        parse_csv_column(pa.array(texts), fld(cql, arrow))
    assert str(info.value).startswith(message)
    assert info.value.row == 2


def test_vectorized_and_per_value_parses_agree() -> None:
    for texts, cql, arrow in [
        (["1", " 2", "", "+3", "1.0", None], "int", pa.int32()),
        (["1.5", "Infinity", "-inf", "NaN", "", "1e-30", None], "float", pa.float32()),
        (["true", "FALSE", "1", "0", "y", "", None], "boolean", pa.bool_()),
        (["1970-01-01", "+10000-01-01", "-0001-12-31", "", None], "date", pa.date32()),
        (["2024-01-01T00:00:00Z", "2024-01-01", "1", "2024-01-01T00:00:00.1239Z", "", None], "timestamp", TS),
    ]:
        field = fld(cql, arrow)
        assert_same(parse_csv_column(pa.array(texts, pa.string()), field), parse_csv_column(texts, field))


def test_hex_mode_requires_the_prefix() -> None:
    assert parse1("0xABcd", "blob", pa.binary(), binary_format="HEX") == b"\xab\xcd"
    # DSBulk's rule (the issue: 0xcafebabe was stored as BASE64 bytes): 0x means hex in either mode.
    assert parse1("0x00", "blob", pa.binary()) == b"\x00"
    with pytest.raises(TextCodecError, match="expected 0x"):
        parse_csv_column(["AP8="], fld("blob", pa.binary()), CsvOptions(binary_format="HEX"))


def test_nested_errors_say_where() -> None:
    with pytest.raises(TextCodecError) as info:
        parse_csv_column(['[1,"x"]'], fld("list<int>", pa.list_(pa.int32())))
    assert str(info.value) == (
        "cannot parse '[1,\"x\"]' as list<int>: element 1: cannot parse 'x' as int: invalid literal"
    )
    with pytest.raises(TextCodecError, match=r"value of 'k': cannot parse 'x' as int"):
        parse_json_value({"k": "x"}, fld("map<text, int>", pa.map_(pa.string(), pa.int32())))


def test_parse_json_value_types() -> None:
    assert parse_json_value("42", fld("int", pa.int32())) == 42
    assert parse_json_value(decimal.Decimal("1.50"), fld("decimal", pa.string())) == "1.50"
    assert parse_json_value(10**37, fld("varint", pa.decimal128(38, 0))) == decimal.Decimal(10**37)
    assert parse_json_value(0.5, fld("float", pa.float32())) == 0.5
    assert parse_json_value(1704067200000, fld("timestamp", TS)) == 1704067200000
    assert parse_json_value(1, fld("boolean", pa.bool_())) is True
    assert parse_json_value(5, fld("text", pa.string())) == "5"
    assert parse_json_value("[1,2]", fld("list<int>", pa.list_(pa.int32()))) == [1, 2]  # JSON text in a string
    assert parse_json_value({"months": 1}, fld("duration", DUR)) == {"months": 1, "days": 0, "nanoseconds": 0}
    for bad, cql, arrow in [
        (True, "int", pa.int32()),
        ([1], "int", pa.int32()),
        ({"a": 1}, "text", pa.string()),
        (5, "date", pa.date32()),
        ("x", "list<int>", pa.list_(pa.int32())),
    ]:
        with pytest.raises(TextCodecError):
            parse_json_value(bad, fld(cql, arrow))


def test_to_arrow_column_builds_nested_uuids() -> None:
    field = fld("map<uuid, frozen<list<uuid>>>", pa.map_(pa.uuid(), pa.list_(pa.uuid())))
    arr = to_arrow_column([[(bytes(16), [b"\x01" * 16])], None], field)
    assert arr.type == field.type
    assert render_jsonl(pa.RecordBatch.from_arrays([arr], schema=pa.schema([field]))) == (
        b'{"c":{"00000000-0000-0000-0000-000000000000":["01010101-0101-0101-0101-010101010101"]}}\n{"c":null}\n'
    )


def test_unsupported_arrow_type_is_a_type_error() -> None:
    field = pa.field("c", pa.large_list(pa.int32()))
    batch = pa.RecordBatch.from_arrays([pa.array([[1]], field.type)], schema=pa.schema([field]))
    with pytest.raises(TypeError, match="no text rendering"):
        render_csv(batch, CsvOptions())


@pytest.mark.parametrize("binary_format", ["BASE64", "HEX"])
def test_all_null_columns_and_empty_children(binary_format: str) -> None:
    options = CsvOptions(binary_format=binary_format)
    for cql, arrow, *_ in CASES:
        batch = batch_of(fld(cql, arrow), [None, None])
        assert render_csv(batch, options) == b"\n\n", cql
        assert render_jsonl(batch, binary_format) == b'{"c":null}\n' * 2, cql
    for cql, arrow, values, expected in [
        ("list<blob>", pa.list_(pa.binary()), [[], None, [None]], ["[]", "null", "[null]"]),
        ("list<uuid>", pa.list_(pa.uuid()), [[], None], ["[]", "null"]),
        ("map<blob, text>", pa.map_(pa.binary(), pa.string()), [[], None], ["{}", "null"]),
        ("list<duration>", pa.list_(DUR), [[None], []], ["[null]", "[]"]),
    ]:
        batch = batch_of(fld(cql, arrow), values)
        assert render_jsonl(batch, binary_format).decode().splitlines() == ['{"c":' + e + "}" for e in expected]


# -- issue "Faithful on every table": codec items -------------------------------------------------------


@pytest.mark.parametrize("binary_format", ["BASE64", "HEX"])
def test_blob_0x_prefix_is_hex_in_either_mode_and_empty_is_empty(binary_format: str) -> None:
    # DSBulk's rule: 0xcafebabe used to be BASE64-decoded in BASE64 mode (stored as 0xd3171a7de6da6d).
    field = fld("blob", pa.binary())
    options = CsvOptions(binary_format=binary_format)
    for values in (["0xcafebabe", "0x", "", None], pa.array(["0xcafebabe", "0x", "", None])):
        assert parse_csv_column(values, field, options).to_pylist() == [b"\xca\xfe\xba\xbe", b"", b"", None]
    assert parse_json_value("0xCAFEBABE", field, binary_format=binary_format) == b"\xca\xfe\xba\xbe"
    assert parse_json_value("", field, binary_format=binary_format) == b""
    if binary_format == "HEX":
        with pytest.raises(TextCodecError, match="pairs of hex digits"):
            parse_csv_column(["0xcafeb"], field, options)
    else:  # not hex: BASE64 text that happens to start with 0x (1 in 4096 random values)
        assert parse_csv_column(["0xBhylwUHtQJoLxybtHx978="], field, options).to_pylist() == [
            base64.b64decode("0xBhylwUHtQJoLxybtHx978=")
        ]


@pytest.mark.parametrize(
    ("text", "cql", "arrow"),
    [
        ("0.12345678901234567890123456789", "double", pa.float64()),
        ("9007199254740993", "double", pa.float64()),  # 2**53 + 1
        ("1e-400", "double", pa.float64()),  # underflows to 0
        ("4.9e-325", "double", pa.float64()),
        ("0.1234567891", "float", pa.float32()),
        ("16777217", "float", pa.float32()),  # 2**24 + 1
    ],
)
def test_numbers_that_lose_precision_are_rejected_unless_allowed(text: str, cql: str, arrow: pa.DataType) -> None:
    field = fld(cql, arrow)
    for values in (["1", text], pa.array(["1", text])):
        with pytest.raises(TextCodecError, match=f"loses precision as a {cql}") as info:
            parse_csv_column(values, field)
        assert info.value.row == 1
        allowed = parse_csv_column(values, field, CsvOptions(allow_precision_loss=True)).to_pylist()
        assert allowed[1] == pc_cast_text(text, arrow)
    with pytest.raises(TextCodecError, match="loses precision"):
        parse_json_value(decimal.Decimal(text), field)
    assert parse_json_value(decimal.Decimal(text), field, allow_precision_loss=True) == pc_cast_text(text, arrow)


def pc_cast_text(text: str, arrow: pa.DataType) -> float:
    return float(pa.scalar(text).cast(arrow).as_py())


@pytest.mark.parametrize(
    ("text", "cql", "arrow"),
    [
        ("0.1", "double", pa.float64()),  # not exact in binary, but 0.1 is the double's own digits
        ("1.50000000000000000000000", "double", pa.float64()),  # many digits, same value
        ("1.7976931348623157e308", "double", pa.float64()),
        ("4.9e-324", "double", pa.float64()),  # the smallest subnormal, exactly its digits
        ("0.000", "double", pa.float64()),
        ("-0.0", "double", pa.float64()),
        ("3.4028235e38", "float", pa.float32()),
        ("0.1", "float", pa.float32()),
        ("1.4e-45", "float", pa.float32()),
        ("NaN", "double", pa.float64()),
    ],
)
def test_decimal_texts_a_float_holds_are_accepted(text: str, cql: str, arrow: pa.DataType) -> None:
    field = fld(cql, arrow)
    expected = comparable([pc_cast_text(text, arrow)])
    for values in ([text], pa.array([text])):
        assert comparable(parse_csv_column(values, field).to_pylist()) == expected
    assert comparable([parse_json_value(text, field)]) == expected


def test_varint_as_arrow_string_is_unbounded_in_csv_and_json() -> None:
    field = fld("varint", pa.string(), "v")
    big = "-" + "9" * 60
    values = ["0", "12345678901234567890123456789012345678901234567890", big, None]
    batch = pa.record_batch([pa.array(values, pa.string())], schema=pa.schema([field]))
    csv = render_csv(batch, CsvOptions(header=False))
    assert csv.decode().splitlines()[:3] == values[:3]
    assert read_csv(csv, batch.schema, CsvOptions(header=False)).column(0).to_pylist() == values
    jsonl = render_jsonl(batch)
    assert jsonl.decode().splitlines()[2] == '{"v":' + big + "}"  # a bare JSON number
    assert read_jsonl(jsonl, batch.schema).column(0).to_pylist() == values
    # Any exactly integral spelling, canonicalized; never through int() (4300-digit limit).
    texts = ["+007", "-0", "1.0", "1E3", "12.500E1", "1" * 5000, None]
    want = ["7", "0", "1", "1000", "125", "1" * 5000, None]
    assert parse_csv_column(texts, field).to_pylist() == want
    assert parse_csv_column(pa.array(texts), field).to_pylist() == want
    assert parse_json_value(decimal.Decimal("1" * 80), field) == "1" * 80
    assert parse_json_value(10**70, field) == str(10**70)
    for bad in ("1.5", "abc", "NaN", "1E2000000"):
        with pytest.raises(TextCodecError):
            parse_csv_column([bad], field)
    # An old file's decimal128(38, 0) varint still reads.
    assert parse_json_value(10**37, fld("varint", pa.decimal128(38, 0))) == decimal.Decimal(10**37)


def _timestamp_round_trip(millis: list[int]) -> None:
    field = pa.field("t", TS, metadata={CQL_TYPE_KEY: b"timestamp"})
    schema = pa.schema([field])
    batch = pa.record_batch([pa.array(millis, pa.int64()).cast(TS)], schema=schema)
    no_header = CsvOptions(header=False)
    assert read_csv(render_csv(batch, no_header), schema, no_header).column(0).cast(pa.int64()).to_pylist() == millis
    assert read_jsonl(render_jsonl(batch), schema).column(0).cast(pa.int64()).to_pylist() == millis


def test_timestamps_render_like_java_time_over_the_whole_int64_range() -> None:
    edges = [-(2**63), 2**63 - 1, -62135596800001, 253402300800000, 253402300801000, -62167219200001]
    field = pa.field("t", TS, metadata={CQL_TYPE_KEY: b"timestamp"})
    batch = pa.record_batch([pa.array(edges, pa.int64()).cast(TS)], schema=pa.schema([field]))
    assert render_csv(batch, CsvOptions(header=False)).decode().splitlines() == [
        "-292275055-05-16T16:47:04.192Z",
        "+292278994-08-17T07:12:55.807Z",
        "0000-12-31T23:59:59.999Z",
        "+10000-01-01T00:00:00Z",
        "+10000-01-01T00:00:01Z",
        "-0001-12-31T23:59:59.999Z",
    ]
    _timestamp_round_trip(edges)


def test_timestamps_round_trip_for_any_int64_milliseconds() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=20))
    def check(millis: list[int]) -> None:
        _timestamp_round_trip(millis)

    check()


def test_rejecting_is_one_pass_over_the_column(monkeypatch: pytest.MonkeyPatch) -> None:
    # 10,000 bad values used to be re-parsed from each failure on (59 s of CPU): now one pass.
    field = fld("int", pa.int32())
    texts = pa.array(["x" if i % 2 else str(i) for i in range(20_000)])
    calls = {"fast": 0, "text": 0}
    fast, text = tc._fast_parse, tc._parse_text

    def counting_fast(*args: Any) -> Any:
        calls["fast"] += 1
        return fast(*args)

    def counting_text(*args: Any) -> Any:
        calls["text"] += 1
        return text(*args)

    from cassandra_bulk_core.codecs import parse_csv

    monkeypatch.setattr(parse_csv, "_fast_parse", counting_fast)
    monkeypatch.setattr(parse_csv, "_parse_text", counting_text)
    column, errors = tc.parse_text_column(texts, field)
    assert calls == {"fast": 1, "text": 20_000}
    assert sorted(errors) == list(range(1, 20_000, 2))
    assert errors[1] == "cannot parse 'x' as int: invalid literal"
    assert column.to_pylist()[:4] == [0, None, 2, None]


def test_csv_options_check_the_encoding() -> None:
    assert CsvOptions(encoding="LATIN-1").encoding == "iso8859-1"
    with pytest.raises(ConfigError, match="unknown character encoding"):
        CsvOptions(encoding="klingon")


def test_a_blob_whose_base64_looks_like_hex_is_rendered_in_hex() -> None:
    """BASE64 mode reads a 0x-hex text as hex (DSBulk's rule), so the renderer must never write a
    BASE64 text that looks like hex: b'\\xd3\\x16\\x9b' is '0xab' in BASE64, which would load back as
    b'\\xab'. Such a blob is written in hex, and the round trip is exact."""
    import base64

    import pyarrow as pa

    from cassandra_bulk_core.text_codecs import _blob_text, _parse_blob

    tricky = base64.b64decode("0xab")
    texts = _blob_text(pa.array([tricky, b"\x01", None], pa.binary()), "BASE64").to_pylist()
    assert texts == ["0xd3169b", "AQ==", None]

    class Node:
        cql = "blob"

    assert _parse_blob(texts[0], Node, "BASE64") == tricky  # type: ignore[arg-type]


# -- CQL literals (cqlsh COPY, DSBulk) -------------------------------------------------------------------


def _udt_field() -> pa.Field:
    fields = [
        fld("text", pa.string(), "val1"),
        fld("int", pa.int32(), "val2"),
        fld("list<int>", pa.list_(pa.int32()), "l"),
    ]
    return fld("frozen<myudt>", pa.struct(fields))


@pytest.mark.parametrize(
    ("text", "cql", "arrow", "expected"),
    [
        ("{'a', 'b'}", "set<text>", pa.list_(pa.string()), ["a", "b"]),
        ("{}", "set<text>", pa.list_(pa.string()), []),
        ("{}", "list<int>", pa.list_(pa.int32()), []),
        ("{'it''s', $$x'y$$}", "set<text>", pa.list_(pa.string()), ["it's", "x'y"]),
        ("['foo', 'bar']", "list<text>", pa.list_(pa.string()), ["foo", "bar"]),
        ("[1, -2, null]", "list<int>", pa.list_(pa.int32()), [1, -2, None]),
        ("{0xcafe, 0x}", "set<blob>", pa.list_(pa.binary()), [b"\xca\xfe", b""]),
        (
            "{'k': 1.5, 'z': -2e3}",
            "map<text, double>",
            pa.map_(pa.string(), pa.float64()),
            [("k", 1.5), ("z", -2000.0)],
        ),
        (
            "{1: '2024-01-01 00:00:00+0000'}",
            "map<int, timestamp>",
            pa.map_(pa.int32(), pa.timestamp("ms", "UTC")),
            "ts",
        ),
        (
            "{[1, 2]: 'x', []: 'y'}",
            "map<frozen<list<int>>, text>",
            pa.map_(pa.list_(pa.int32()), pa.string()),
            [([1, 2], "x"), ([], "y")],
        ),
        (
            "(1, 'a', null)",
            "frozen<tuple<int, text, uuid>>",
            pa.struct([("f0", pa.int32()), ("f1", pa.string()), ("f2", pa.uuid())]),
            {"f0": 1, "f1": "a", "f2": None},
        ),
        ("[{'a'}, {}]", "list<frozen<set<text>>>", pa.list_(pa.list_(pa.string())), [["a"], []]),
        ("{true, false}", "set<boolean>", pa.list_(pa.bool_()), [True, False]),
    ],
)
def test_cql_collection_and_tuple_literals(text: str, cql: str, arrow: pa.DataType, expected: Any) -> None:
    field = fld(cql, arrow)
    value = parse_csv_column([text], field).to_pylist()[0]
    if expected == "ts":
        assert value == [(1, dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))]
    else:
        assert value == expected


def test_cql_udt_literals_take_fields_in_any_order_case_and_missing() -> None:
    field = _udt_field()
    texts = ["{val2: 1, val1: 'x'}", "{VAL2: 3}", "{\"val1\": 'y', l: [1, 2]}", "{}", '{"val1": "json", "val2": 2}']
    assert parse_csv_column(texts, field).to_pylist() == [
        {"val1": "x", "val2": 1, "l": None},
        {"val1": None, "val2": 3, "l": None},
        {"val1": "y", "val2": None, "l": [1, 2]},
        {"val1": None, "val2": None, "l": None},
        {"val1": "json", "val2": 2, "l": None},
    ]
    with pytest.raises(TextCodecError, match="unknown field 'nope'"):
        parse_csv_column(["{nope: 1}"], field)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{'a',}", "not a CQL literal either: expected a value"),
        ("{'a' 'b'}", "not a CQL literal either"),
        ("['unterminated]", "unterminated string"),
        ("{'a'} trailing", "unexpected text after the literal"),
    ],
)
def test_bad_cql_literals_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TextCodecError, match=message):
        parse_csv_column([text], fld("set<text>", pa.list_(pa.string())))


def test_json_still_wins_and_unbracketed_elements_still_read() -> None:
    maps = fld("set<frozen<map<text, int>>>", pa.list_(pa.map_(pa.string(), pa.int32())))
    assert parse_csv_column(['{"a": 1}', '{"a": 1},{"b": 2}'], maps).to_pylist() == [
        [[("a", 1)]],
        [[("a", 1)], [("b", 2)]],
    ]


# -- JSON layouts ------------------------------------------------------------------------------------------


def _records(data: bytes, block: int | None = None, monkeypatch: Any = None) -> list[Any]:
    from cassandra_bulk_core.codecs import json_docs

    if block is not None:
        monkeypatch.setattr(json_docs, "_BLOCK", block)
    out = []
    for r in json_docs.json_records(io.BufferedReader(io.BytesIO(data)), "utf-8"):
        text = r if isinstance(r, str) else r.decode()
        try:
            out.append(json.loads(text))
        except ValueError:
            out.append(("bad", text))
    return out


@pytest.mark.parametrize("block", [None, 1, 7])
def test_json_layouts_lines_array_and_multi_line_documents(block: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [{"k": 1, "v": "a\nb"}, {"k": 2, "v": [1, 2]}, {"k": 3}]
    lines = b"\n".join(json.dumps(d).encode() for d in docs) + b"\n\n"
    array = json.dumps(docs, indent=2).encode()
    pretty = b"\n".join(json.dumps(d, indent=4).encode() for d in docs)
    one_line_array = json.dumps(docs).encode()
    for data in (lines, array, pretty, one_line_array, b"\n  " + array + b"\n"):
        assert _records(data, block, monkeypatch) == docs
    assert _records(b"[]", block, monkeypatch) == []
    assert _records(b"", block, monkeypatch) == []


def test_a_bad_multi_line_document_is_handed_on_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{\n "k": 1,\n "v": oops\n}\n{\n "k": 2\n}\n'
    assert _records(data) == [("bad", '{\n "k": 1,\n "v": oops\n}'), {"k": 2}]
    lines = b'{"k": 1, "v": \n{"k": 2}\n'  # a JSON Lines file whose first line is cut
    assert _records(lines) == [("bad", '{"k": 1, "v":'), {"k": 2}]


def test_dsbulk_option_names_translate() -> None:
    from cassandra_bulk_core.cli_dsbulk import translate

    notes: list[str] = []
    args = [
        "-k", "ks", "-t", "t", "-header", "false", "-delim", "\\t", "--schema.mapping", "k=k",
        "--connector.csv.header=true", "-maxErrors", "-1", "--codec.nullStrings", '["NULL", "N/A"]',
        "-dryRun", "--connector.csv.url", "/x", "-h", '["h1:9042", "h2"]', "-port", "9042",
        "-cl", "LOCAL_QUORUM", "--log.verbosity", "0", "-skipRecords", "2", "-maxRecords", "3",
        "-comment", "#", "--connector.csv.ignoreLeadingWhitespaces", "true", "--codec.overflowStrategy", "TRUNCATE",
        "--batch.mode", "REPLICA_SET", "--dsbulk.log.maxErrors", "5", "-url", "/y",
        "--connector.json.mode", "MULTI_DOCUMENT",
    ]  # fmt: skip
    assert translate(args, notes.append) == [
        "-k", "ks", "-t", "t", "--no-header", "--delimiter", "\t", "--mapping", "k=k", "--header",
        "--max-errors", "-1", "--null-strings", "NULL,N/A", "--dry-run", "--url", "/x", "--host", "h1,h2",
        "--port", "9042", "--consistency", "local_quorum", "--skip-records", "2", "--max-records", "3",
        "--comment", "#", "--ignore-leading-whitespaces", "--allow-precision-loss", "--batch-mode", "replica-set",
        "--max-errors", "5", "--url", "/y",
    ]  # fmt: skip
    assert len(notes) == 2 and "--log.verbosity" in notes[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--codec.locale", "fr"], "DSBulk option --codec.locale is not supported"),
        (["-query", "SELECT 1"], "DSBulk option -query is not supported"),
        (["--connector.csv.header", "maybe"], "takes true or false, not 'maybe'"),
        (["-maxErrors"], "-maxErrors needs a value"),
        (["--batch.mode", "UNLOGGED"], "one of DISABLED"),
    ],
)
def test_unsupported_or_bad_dsbulk_options_are_named(args: list[str], message: str) -> None:
    import click

    from cassandra_bulk_core.cli_dsbulk import translate

    with pytest.raises(click.UsageError, match=message):
        translate(args)


def test_shortest_round_trip_floats_are_never_a_precision_loss() -> None:
    """What an export (or Java's toString) prints for a float/double loads back: ties broken upward
    (double 2**-24 → 5.960464477539063e-8) and float32 texts that are not the nearest decimal of
    their length (2**87 → 1.5474251e+26); a text with digits the type cannot hold is still refused."""
    from cassandra_bulk_core.codecs.numbers import _loses_precision

    assert not _loses_precision("5.960464477539063e-8", 2.0**-24, "double")
    assert not _loses_precision("1.5474251e+26", 1.5474250491067253e26, "float")
    assert not _loses_precision("0.1", 0.1, "double")
    assert _loses_precision("0.12345678901234567890123456789", 0.12345678901234568, "double")
