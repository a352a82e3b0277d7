"""wire.serialize_column gives exactly the bytes the driver's own serializers give, type by type."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
from cassandra.cqltypes import lookup_casstype
from cassandra.query import UNSET_VALUE

from cassandra_bulk_core.types import driver_values
from cassandra_bulk_core.wire import serialize_column

CASES = [
    ("tinyint", "ByteType", pa.array([-128, 0, 127, None], pa.int8())),
    ("smallint", "ShortType", pa.array([-32768, 5, None], pa.int16())),
    ("int", "Int32Type", pa.array([-(2**31), 0, 2**31 - 1, None], pa.int32())),
    ("bigint", "LongType", pa.array([-(2**63), 1, 2**63 - 1, None], pa.int64())),
    ("float", "FloatType", pa.array([1.5, float("inf"), None], pa.float32())),
    ("double", "DoubleType", pa.array([-0.0, 1e300, float("nan"), None], pa.float64())),
    ("boolean", "BooleanType", pa.array([True, False, None])),
    ("text", "UTF8Type", pa.array(["", "é ✓", None])),
    ("ascii", "AsciiType", pa.array(["abc", None])),
    ("blob", "BytesType", pa.array([b"", b"\x00\xff", None], pa.binary())),
    ("uuid", "UUIDType", pa.array([uuid.uuid4().bytes, None], pa.binary(16)).cast(pa.uuid())),
    ("timestamp", "DateType", pa.array([-(10**12), 0, 1_700_000_000_123, None], pa.timestamp("ms", tz="UTC"))),
    ("date", "SimpleDateType", pa.array([-(2**31), -1, 0, 2**31 - 1, None], pa.date32())),
    ("time", "TimeType", pa.array([0, 86_399_999_999_999, None], pa.time64("ns"))),
]


@pytest.mark.parametrize(("cql", "cass", "arr"), CASES, ids=[c[0] for c in CASES])
def test_bytes_equal_the_drivers(cql: str, cass: str, arr: pa.Array) -> None:
    field = pa.field("c", arr.type, metadata={b"cql_type": cql.encode()})
    cqltype = lookup_casstype(cass)
    got, bad = serialize_column(arr, field, cqltype, 4, UNSET_VALUE)
    expected = [UNSET_VALUE if v is None else cqltype.serialize(v, 4) for v in driver_values(arr, field)]
    assert not bad and got == expected
    assert got[-1] is UNSET_VALUE


def test_other_types_go_through_the_driver_and_report_bad_values() -> None:
    field = pa.field("m", pa.map_(pa.string(), pa.int32()), metadata={b"cql_type": b"map<text, int>"})
    arr = pa.array([[("a", 1)], None], field.type)
    cqltype = lookup_casstype("MapType(UTF8Type, Int32Type)")
    got, bad = serialize_column(arr, field, cqltype, 4, None)
    assert got == [cqltype.serialize({"a": 1}, 4), None] and not bad
    day = pa.field("d", pa.string(), metadata={b"cql_type": b"decimal"})
    got, bad = serialize_column(pa.array(["1.5", "2"]), day, lookup_casstype("DecimalType"), 4, None)
    assert len(got) == 2 and not bad
