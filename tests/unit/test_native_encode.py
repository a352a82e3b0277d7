"""Issue 14 item 2: the compiled load encoder writes exactly the bytes of the Python path.

For every scalar type (and the types it hands back to Python: inet, duration, collections,
vectors), with edge values (nulls, EMPTY strings/blobs, min/max, NaN payloads, negative zero, huge
varints and decimals, sliced arrays), each row's blob from ``types.encode.encode_rows`` is compared
byte for byte with the blob the driver would write from the Python path's serialized values
(``wire.serialize_column`` then ``write_value``); routing keys too. Then a whole ``BATCH`` frame
written by the blob handler is compared with the driver's own frame of the same rows."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import pyarrow as pa
import pytest
from cassandra.cqltypes import lookup_casstype
from cassandra.query import UNSET_VALUE

from cassandra_bulk_core.load.statements import _routing_keys
from cassandra_bulk_core.types import CQL_TYPE_KEY, DURATION_TYPE, native
from cassandra_bulk_core.types import encode as enc
from cassandra_bulk_core.wire import serialize_column

PROTO = 4


def _field(name: str, cql: str, t: pa.DataType) -> pa.Field:
    return pa.field(name, t, metadata={CQL_TYPE_KEY: cql.encode()})


def _floats(t: pa.DataType, fmt: str, bits: list[int | None]) -> pa.Array:
    """A float array from raw IEEE bit patterns (NaN payloads, signalling NaNs, -0.0)."""
    width = struct.calcsize(fmt)
    data = b"".join(struct.pack(fmt, 0 if b is None else b) for b in bits)
    valid = pa.array([b is not None for b in bits]).buffers()[1]
    nulls = sum(b is None for b in bits)
    assert len(data) == width * len(bits)
    return pa.Array.from_buffers(t, len(bits), [valid if nulls else None, pa.py_buffer(data)], null_count=nulls)


def _uuid_type() -> pa.DataType:
    from cassandra_bulk_core.types.arrow import column_type_of
    from cassandra_bulk_core.types.parse import parse

    return column_type_of(parse("uuid"), exact=True).arrow


BIG = "9" * 300
DECIMALS = [
    "0",
    "-0",
    "1.50",
    "-1.50",
    ".5",
    "5.",
    "1e3",
    "1E-3",
    "-1.5e+10",
    "+7.25",
    "0E-5",
    "0.000",
    "007.10",
    "123456789012345678901234567890.123456789",
    f"-{BIG}.{BIG}",
    "1e2147483648",
    "-128",
    "-129",
    "255",
    None,
]
VARINTS = [
    "0",
    "-0",
    "1",
    "-1",
    "127",
    "128",
    "-128",
    "-129",
    "255",
    "256",
    "-256",
    "-255",
    "+42",
    "000123",
    "65535",
    "-65536",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "4294967296",
    BIG,
    f"-{BIG}",
    "-" + "1" + "0" * 77,
    None,
]


def _columns() -> list[tuple[pa.Array, pa.Field, Any]]:
    """(array, field, driver type) of every covered type, each with its edge values."""
    uuid_t = _uuid_type()
    f32 = [0x7FC00000, 0x7FA00001, 0x80000000, 0x7F7FFFFF, None, 0xFF800000, 0x00000001]
    maps = [[("a", 1)], [], None, [("", -1), ("z", 2)], [("k", 0)]]
    extremes = [-(2**63), 2**63 - 1, 0, None, -1]
    u = [uuid.UUID(int=0).bytes, uuid.UUID(int=2**128 - 1).bytes, None, uuid.uuid4().bytes]
    cols: list[tuple[str, str, pa.Array]] = [
        ("tinyint", "ByteType", pa.array([-128, 127, 0, None, -1], pa.int8())),
        ("smallint", "ShortType", pa.array([-32768, 32767, 0, None, -1], pa.int16())),
        ("int", "Int32Type", pa.array([-(2**31), 2**31 - 1, 0, None, -1], pa.int32())),
        ("bigint", "LongType", pa.array([-(2**63), 2**63 - 1, 0, None, -1], pa.int64())),
        ("counter", "CounterColumnType", pa.array([-(2**63), 2**63 - 1, 0, None, 5], pa.int64())),
        (
            "float",
            "FloatType",
            _floats(pa.float32(), "<I", f32),
        ),
        (
            "double",
            "DoubleType",
            _floats(
                pa.float64(),
                "<Q",
                [
                    0x7FF8000000000000,
                    0x7FF4000000000001,
                    0x8000000000000000,
                    0x7FEFFFFFFFFFFFFF,
                    None,
                    0xFFF0000000000000,
                    1,
                ],
            ),
        ),
        ("boolean", "BooleanType", pa.array([True, False, None, True, False], pa.bool_())),
        (
            "timestamp",
            "TimestampType",
            pa.array(extremes, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        ),
        ("date", "SimpleDateType", pa.array([-(2**31), 2**31 - 1, 0, None, -1], pa.int32()).cast(pa.date32())),
        ("time", "TimeType", pa.array([0, 86_399_999_999_999, 1, None, 42], pa.int64()).cast(pa.time64("ns"))),
        ("uuid", "UUIDType", pa.ExtensionArray.from_storage(uuid_t, pa.array([*u, u[0]], pa.binary(16)))),
        ("timeuuid", "TimeUUIDType", pa.array([*u, u[1]], pa.binary(16))),
        ("text", "UTF8Type", pa.array(["", "héllo ✓", None, "x" * 3000, "\x00"], pa.string())),
        ("ascii", "AsciiType", pa.array(["abc", "", None, "z", " "], pa.string())),
        ("blob", "BytesType", pa.array([b"", b"\x00\xff", None, b"b" * 70000, b"\x80"], pa.binary())),
        ("'com.example.Custom'", "BytesType", pa.array([b"\x01", b"", None, b"\xfe", b"c"], pa.binary())),
        ("varint", "IntegerType", pa.array(VARINTS, pa.string())),
        ("decimal", "DecimalType", pa.array(DECIMALS, pa.string())),
        # Not native: serialized the Python way and handed over as they are.
        ("inet", "InetAddressType", pa.array(["127.0.0.1", "::1", None, "2001:db8::ff00:42:8329", "0.0.0.0"])),
        (
            "duration",
            "DurationType",
            pa.array(
                [
                    {"months": 1, "days": -2, "nanoseconds": 3},
                    None,
                    {"months": -(2**31), "days": 2**31 - 1, "nanoseconds": -(2**63)},
                    {"months": 0, "days": 0, "nanoseconds": 0},
                    {"months": 7, "days": 8, "nanoseconds": 2**63 - 1},
                ],
                DURATION_TYPE,
            ),
        ),
        ("list<int>", "ListType(Int32Type)", pa.array([[1, 2], [], None, [-(2**31)], [0]], pa.list_(pa.int32()))),
        ("set<text>", "SetType(UTF8Type)", pa.array([["a", "b"], [], None, [""], ["é"]], pa.list_(pa.string()))),
        (
            "map<text, int>",
            "MapType(UTF8Type,Int32Type)",
            pa.array(maps, pa.map_(pa.string(), pa.int32())),
        ),
        (
            "vector<float, 3>",
            "VectorType(FloatType,3)",
            pa.array(
                [[1.0, -0.0, 2.5], [0.0, 0.0, 0.0], None, [float("nan"), float("inf"), 1e-45], [3.0, 2.0, 1.0]],
                pa.list_(pa.float32(), 3),
            ),
        ),
    ]
    n = max(len(arr) for _, _, arr in cols)
    out = []
    for i, (cql, driver, arr) in enumerate(cols):
        arr = pa.concat_arrays([arr] * -(-n // len(arr))).slice(0, n)  # every column n rows: cycled
        out.append((arr, _field(f"c{i}", cql, arr.type), lookup_casstype(driver)))
    return out


def _python_blobs(
    columns: list[tuple[pa.Array, pa.Field, Any]], extra: list[list[Any]], null: Any, key: list[int]
) -> tuple[list[bytes], list[bytes], dict[int, str]]:
    """The Python path: each column serialized, each row's values as the driver writes them."""
    serialized, refused = [], {}
    for arr, field, cqltype in columns:
        out, bad = serialize_column(arr, field, cqltype, PROTO, null)
        for r, reason in bad.items():
            refused.setdefault(r, f"field {field.name!r}: {reason}")
        serialized.append(out)
    serialized.extend(extra)
    blobs = [enc.python_blob(row) for row in zip(*serialized, strict=True)]
    keys = _routing_keys([[b if isinstance(b, bytes) else b"" for b in serialized[i]] for i in key])
    return blobs, keys, refused


@pytest.fixture(autouse=True)
def _compiled() -> None:
    # The locked environment builds the extension (uv sync): its absence is a failure, not a skip.
    assert native.module() is not None and hasattr(native.module(), "encode_rows"), "native/ is not built"


@pytest.mark.parametrize("null", [None, UNSET_VALUE], ids=["explicit-nulls", "null-to-unset"])
@pytest.mark.parametrize("start", [0, 1], ids=["whole", "sliced"])
def test_every_type_byte_for_byte(null: Any, start: int) -> None:
    columns = _columns()
    n = len(columns[0][0])
    columns = [(a.slice(start), f, t) for a, f, t in columns]
    n -= start
    ts = pa.array([(2**62 + i) for i in range(n)], pa.int64())
    extra_native = [enc.int64_spec(ts), enc.const_spec(UNSET_VALUE)]
    extra_python = [[struct.pack(">q", v) for v in ts.to_pylist()], [UNSET_VALUE] * n]
    for key in ([0], [3, 13], [17, 11, 12]):
        blobs, keys, refused = enc.encode_rows(columns, extra_native, PROTO, null, key)
        want_blobs, want_keys, want_refused = _python_blobs(columns, extra_python, null, key)
        assert refused == want_refused
        for r in range(n):
            assert blobs[r] == want_blobs[r], f"row {r}"
            assert keys[r] == want_keys[r], f"row {r} key {key}"
        assert [enc.values_of(b) for b in blobs] == [
            [null if v is None and null is UNSET_VALUE else v for v in enc.values_of(w)] for w in want_blobs
        ]


def test_decimal_out_of_int32_scale_is_refused_like_python() -> None:
    """A scale the wire cannot carry: the compiled encoder hands the column to Python, whose
    serializer refuses that row (with its reason) and encodes the rest."""
    arr = pa.array(["1.5", "1e-2147483648", "2"], pa.string())
    columns = [(arr, _field("d", "decimal", arr.type), lookup_casstype("DecimalType"))]
    blobs, _keys, refused = enc.encode_rows(columns, [], PROTO, None, [0])
    want, _, want_refused = _python_blobs(columns, [], None, [0])
    assert list(refused) == [1] and refused == want_refused
    assert blobs == want


def test_loose_numerals_go_the_python_way() -> None:
    """Text Python's ``int``/``Decimal`` accept but the strict parser does not (spaces,
    underscores): the column is encoded by Python, so the bytes are still Python's."""
    for cql, driver, values in (
        ("varint", "IntegerType", ["1_000", " 5", "7"]),
        ("decimal", "DecimalType", ["1_0.5", " 2.5 ", "3"]),
    ):
        arr = pa.array(values, pa.string())
        columns = [(arr, _field("v", cql, arr.type), lookup_casstype(driver))]
        blobs, _keys, refused = enc.encode_rows(columns, [], PROTO, None, [0])
        want, _, want_refused = _python_blobs(columns, [], None, [0])
        assert blobs == want and refused == want_refused == {}


def test_constants_and_python_lists_pass_through() -> None:
    arr = pa.array([1, None, 3], pa.int32())
    columns = [(arr, _field("k", "int", arr.type), lookup_casstype("Int32Type"))]
    extra = [enc.const_spec(b"\x00" * 8), enc.list_spec([b"\x01", None, UNSET_VALUE]), enc.const_spec(None)]
    blobs, _keys, _ = enc.encode_rows(columns, extra, PROTO, None, [0])
    want, _, _ = _python_blobs(columns, [[b"\x00" * 8] * 3, [b"\x01", None, UNSET_VALUE], [None] * 3], None, [0])
    assert blobs == want


def test_batch_frame_equals_the_drivers() -> None:
    """A BATCH of blobs (and one row bound from a values list) written by the blob handler is the
    frame the driver writes for the same rows as values lists."""
    from cassandra import ConsistencyLevel
    from cassandra.protocol import BatchMessage, ProtocolHandler
    from cassandra.query import BatchType

    columns = _columns()
    n = len(columns[0][0])
    extra = [enc.const_spec(struct.pack(">q", 123)), enc.const_spec(UNSET_VALUE)]
    blobs, _keys, _ = enc.encode_rows(columns, extra, PROTO, None, [0])
    qid = b"\x12\x34" * 8
    other = b"\x56" * 16
    for mixed in (False, True, None):
        blob_queries: list[Any] = [(True, qid, b) for b in blobs] if mixed is not None else enc.blob_queries(qid, blobs)
        list_queries = [(True, qid, enc.values_of(b)) for b in blobs]
        if mixed:  # None: the joined statements batching makes (enc.blob_queries)
            blob_queries.append((True, other, enc.values_of(blobs[0])))
            list_queries.append((True, other, enc.values_of(blobs[0])))
        handler = enc.fast_batch_handler(ProtocolHandler)
        for version in (4, 5):
            frames = []
            for cls, queries in ((handler, blob_queries), (ProtocolHandler, list_queries)):
                msg = BatchMessage(BatchType.UNLOGGED, queries, ConsistencyLevel.LOCAL_QUORUM, None, 1_700_000, None)
                frames.append(cls.encode_message(msg, 7, version, None, False))
            assert frames[0] == frames[1], f"protocol v{version}, mixed={mixed}"
    assert n == len(blobs)
