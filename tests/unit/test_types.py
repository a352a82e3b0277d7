"""The CQL → Arrow rules, one per type, on driver type classes (no cluster needed)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

import pyarrow as pa
import pytest
from cassandra.cqltypes import lookup_casstype
from cassandra.util import Date, Duration, Time

from cassandra_bulk_core.types import DURATION_TYPE, column_type, to_arrow_array

M = "org.apache.cassandra.db.marshal."


def ct(name: str):
    return column_type(lookup_casstype(name))


@pytest.mark.parametrize(
    ("marshal", "arrow"),
    [
        ("AsciiType", pa.string()),
        ("UTF8Type", pa.string()),
        ("ByteType", pa.int8()),
        ("ShortType", pa.int16()),
        ("Int32Type", pa.int32()),
        ("LongType", pa.int64()),
        ("CounterColumnType", pa.int64()),
        ("IntegerType", pa.string()),
        ("DecimalType", pa.string()),
        ("FloatType", pa.float32()),
        ("DoubleType", pa.float64()),
        ("BooleanType", pa.bool_()),
        ("BytesType", pa.binary()),
        ("UUIDType", pa.uuid()),
        ("TimeUUIDType", pa.uuid()),
        ("InetAddressType", pa.string()),
        ("SimpleDateType", pa.date32()),
        ("TimeType", pa.time64("ns")),
        ("TimestampType", pa.timestamp("ms", tz="UTC")),
        ("DurationType", DURATION_TYPE),
    ],
)
def test_simple_types(marshal: str, arrow: pa.DataType) -> None:
    assert ct(M + marshal).arrow == arrow


def test_nested_types() -> None:
    assert ct(f"{M}ListType({M}Int32Type)").arrow == pa.list_(pa.int32())
    assert ct(f"{M}SetType({M}UTF8Type)").arrow == pa.list_(pa.string())
    assert ct(f"{M}MapType({M}UTF8Type,{M}SimpleDateType)").arrow == pa.map_(pa.string(), pa.date32())
    tup = ct(f"{M}TupleType({M}Int32Type,{M}UTF8Type)").arrow
    assert tup == pa.struct([("f0", pa.int32()), ("f1", pa.string())])
    frozen = ct(f"{M}FrozenType({M}ListType({M}Int32Type))")
    assert frozen.arrow == pa.list_(pa.int32()) and frozen.cql.startswith("frozen<")
    vec = ct(f"{M}VectorType({M}FloatType,3)")
    assert vec.arrow == pa.list_(pa.float32(), 3) and vec.cql == "vector<float, 3>"


def test_values_convert_losslessly_including_edges() -> None:
    assert to_arrow_array([Date(-(2**31)), dt.date(2000, 1, 1), None], ct(M + "SimpleDateType")).cast(
        pa.int32()
    ).to_pylist() == [-(2**31), 10957, None]
    assert to_arrow_array([Time(86399999999999)], ct(M + "TimeType")).cast(pa.int64()).to_pylist() == [86399999999999]
    # The driver's float-seconds datetime is off by microseconds; the exact millisecond is recovered.
    ts = to_arrow_array([dt.datetime(9999, 12, 31, 23, 59, 59, 998993)], ct(M + "TimestampType"))
    assert ts.cast(pa.int64()).to_pylist() == [253402300799999]
    assert to_arrow_array([decimal.Decimal("1.23E+5")], ct(M + "DecimalType")).to_pylist() == ["1.23E+5"]
    assert to_arrow_array([10**37], ct(M + "IntegerType")).to_pylist() == [str(10**37)]
    assert to_arrow_array([Duration(-1, -2, -3)], ct(M + "DurationType")).to_pylist() == [
        {"months": -1, "days": -2, "nanoseconds": -3}
    ]
    u = uuid.uuid4()
    assert to_arrow_array([u], ct(M + "UUIDType")).to_pylist() == [u]
    assert to_arrow_array(["", None], ct(M + "UTF8Type")).to_pylist() == ["", None]


def test_varint_beyond_38_digits_is_carried_exactly() -> None:
    """Issue "Faithful", item 3: a varint is unbounded, so its Arrow form is its decimal digits."""
    big = -(10**49) - 7
    assert to_arrow_array([10**40, big, None], ct(M + "IntegerType")).to_pylist() == [str(10**40), str(big), None]


def test_a_udt_the_driver_metadata_does_not_know_yet_is_fetched_once() -> None:
    """Right after CREATE TYPE from another session, the driver's schema metadata may lack the UDT
    (its schema event is still on the way): table_types asks the cluster for it instead of failing."""
    from types import SimpleNamespace

    from cassandra_bulk_core.types.tree import UserType, table_types

    column = SimpleNamespace(cql_type="frozen<list<frozen<addr>>>")
    keyspace = SimpleNamespace(user_types={}, tables={"t": SimpleNamespace(columns={"a": column})}, views={})
    addr = SimpleNamespace(field_names=["street", "zip"], field_types=["text", "int"])

    class Cluster:
        def __init__(self) -> None:
            self.metadata = SimpleNamespace(keyspaces={"ks": keyspace})
            self.refreshed: list[tuple[str, str]] = []

        def refresh_user_type_metadata(self, ks: str, name: str) -> None:
            self.refreshed.append((ks, name))
            keyspace.user_types[name] = addr

    cluster = Cluster()
    tree = table_types(cluster, "ks", "t")["a"]
    assert cluster.refreshed == [("ks", "addr")]
    assert isinstance(tree.element, UserType) and tree.element.field_names == ("street", "zip")
