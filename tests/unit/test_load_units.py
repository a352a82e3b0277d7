"""Load pieces without a cluster: checkpoint intervals, max_errors, Arrow → driver values, file picking."""

from __future__ import annotations

import decimal
import uuid

import pyarrow as pa
import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.load import Intervals, _other_range_file, _parse_max_errors
from cassandra_bulk_core.sources import _csv_line, detect_format
from cassandra_bulk_core.text_codecs import CsvOptions, read_csv
from cassandra_bulk_core.types import conform_column, driver_values


def test_intervals_merge_and_cover() -> None:
    iv = Intervals()
    iv.add(10, 20)
    iv.add(0, 5)
    iv.add(5, 10)
    assert iv.spans == [[0, 20]] and iv.covers(3, 18) and not iv.covers(15, 25)
    iv.add(30, 40)
    assert iv.total() == 30 and not iv.covers(19, 31)


def test_max_errors_forms() -> None:
    assert _parse_max_errors(10) == (10, None)
    assert _parse_max_errors("5%") == (None, 0.05)
    assert _parse_max_errors(-1) == (None, None)
    assert _parse_max_errors("0") == (0, None)
    for bad in ("abc", "150%", "0%"):
        with pytest.raises(ConfigError, match="max_errors"):
            _parse_max_errors(bad)


def test_iceberg_types_conform_to_the_canonical_ones() -> None:
    tiny = pa.field("t", pa.int8(), metadata={b"cql_type": b"tinyint"})
    col, errors = conform_column(pa.array([1, 300, None], pa.int32()), tiny)
    assert col.to_pylist() == [1, None, None] and list(errors) == [1] and "tinyint" in errors[1]
    ts = pa.field("ts", pa.timestamp("ms", tz="UTC"))
    col, errors = conform_column(pa.array([1_000, 1_001], pa.timestamp("us", tz="UTC")), ts)
    assert col.cast(pa.int64()).to_pylist()[0] == 1 and list(errors) == [1]  # no silent µs loss
    vec = pa.field("v", pa.list_(pa.field("item", pa.float32()), 2))
    col, errors = conform_column(pa.array([[1.0, 2.0], None, [1.0]], pa.list_(pa.float64())), vec)
    assert driver_values(col, vec)[:2] == [[1.0, 2.0], None] and list(errors) == [2]
    u = uuid.uuid4()
    uf = pa.field("u", pa.uuid())
    col, errors = conform_column(pa.array([u.bytes], pa.binary(16)), uf)
    assert driver_values(col, uf) == [u] and not errors


def test_driver_values_use_the_wire_forms() -> None:
    assert driver_values(pa.array([0, -1], pa.date32()), pa.field("d", pa.date32())) == [2**31, 2**31 - 1]
    dec = pa.field("x", pa.string(), metadata={b"cql_type": b"decimal"})
    assert driver_values(pa.array(["1.50E+3"]), dec) == [decimal.Decimal("1.50E+3")]
    m = pa.field("m", pa.map_(pa.string(), pa.list_(pa.int32())))
    values = driver_values(pa.array([[("a", [1])], None, [("b", [])]], m.type).slice(1), m)
    assert values[0] is None and list(values[1].items()) == [("b", [])]
    udt = pa.field("s", pa.struct([("street", pa.string()), ("zip", pa.int32())]))
    assert driver_values(pa.array([{"street": "x", "zip": 1}, None], udt.type), udt) == [("x", 1), None]
    vi = pa.field("vi", pa.decimal128(38, 0))
    assert driver_values(pa.array([decimal.Decimal(10**30)], vi.type), vi) == [10**30]


def test_files_of_other_ranges_are_skipped_only_for_the_same_split_count() -> None:
    assert _other_range_file("r01-of-4-part-00000.parquet", "r02-of-4")
    assert not _other_range_file("r02-of-4-part-00003.parquet", "r02-of-4")
    assert not _other_range_file("r01-of-8-part-00000.parquet", "r02-of-4")  # different plan: filter by token
    assert not _other_range_file("data.csv", "r02-of-4")


def test_reject_lines_read_back_as_the_same_cells() -> None:
    options = CsvOptions()
    cells = ['a "quoted", value', None, "back\\slash", "", "line\nbreak"]
    line = _csv_line(cells, options)
    schema = pa.schema([pa.field(f"c{i}", pa.string()) for i in range(len(cells))])
    table = read_csv(line.encode() + b"\n", schema, CsvOptions(header=False))
    assert [table.column(i)[0].as_py() for i in range(len(cells))] == cells


def test_format_from_name() -> None:
    assert detect_format("s3://b/x.csv.gz") == "csv"
    assert detect_format("/d/part.parquet") == "parquet"
    with pytest.raises(ConfigError, match="--format"):
        detect_format("-")
