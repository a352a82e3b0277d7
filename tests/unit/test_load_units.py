"""Load pieces without a cluster: checkpoint intervals, max_errors, Arrow → driver values, file picking."""

from __future__ import annotations

import decimal
import json
import uuid
from typing import Any

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


def _plan(columns: list[str], keys: list[str], partition: list[str], statics: frozenset[str] = frozenset()) -> Any:
    from cassandra_bulk_core.load import _Plan

    return _Plan(
        columns=columns,
        fields=[],
        targets=[],
        keys=keys,
        counter=False,
        writetime_fields={},
        ttl_fields={},
        row_timestamp=None,
        row_ttl=None,
        source_fields=None,
        partition=tuple(partition),
        clustering=tuple(k for k in keys if k not in partition),
        static_columns=statics,
    )


def test_null_collection_elements_are_found_at_any_depth() -> None:
    from cassandra_bulk_core.load import _null_element_rows

    lists = pa.array([[1, None], None, [2], [3, 4]], pa.list_(pa.int32())).slice(0)
    assert _null_element_rows(lists) == {0}
    assert _null_element_rows(lists.slice(1)) == set()  # offsets respected
    maps = pa.array([[("a", 1)], [("b", None)], None], pa.map_(pa.string(), pa.int32()))
    assert _null_element_rows(maps) == {1}
    vectors = pa.array([[1.0, 2.0], [None, 1.0]], pa.list_(pa.float32(), 2))
    assert _null_element_rows(vectors) == {1}
    nested = pa.array([[[1]], [[1, None]], [None]], pa.list_(pa.list_(pa.int32())))
    assert _null_element_rows(nested) == {1, 2}
    # A UDT's null field is allowed; a null inside a collection in it is not.
    udt = pa.array(
        [{"zip": None, "tags": ["a"]}, {"zip": 1, "tags": [None]}],
        pa.struct([("zip", pa.int32()), ("tags", pa.list_(pa.string()))]),
    )
    assert _null_element_rows(udt) == {1}
    assert _null_element_rows(pa.array([1, None])) == set()


def test_static_only_rows_and_null_keys() -> None:
    from cassandra_bulk_core.load import _key_problems

    batch = pa.RecordBatch.from_pydict(
        {
            "k": [1, 2, None, 4, 5],
            "c": [None, 1, 1, None, None],
            "s": ["x", None, None, "y", None],
            "v": [None, "a", "b", "z", None],
        }
    )
    static, bad = _key_problems(batch, _plan(["k", "c", "s", "v"], ["k", "c"], ["k"], frozenset({"s"})))
    assert static == {0}
    assert bad[2] == "primary key column 'k' is null"
    assert "non-static column(s) v" in bad[3] and "sets no static column" in bad[4]
    # Without static columns a null clustering column is just a null key.
    static, bad = _key_problems(batch.select(["k", "c", "v"]), _plan(["k", "c", "v"], ["k", "c"], ["k"]))
    assert not static and bad[0] == "primary key column 'c' is null"


def test_max_errors_crossing_is_the_record_past_the_limit() -> None:
    from cassandra_bulk_core.load import _limit_crossing

    assert _limit_crossing([3, 5, 9], 0, 0, 0, 2, None) == 9
    assert _limit_crossing([3, 5], 0, 0, 0, 2, None) is None
    assert _limit_crossing([103], 2, 100, 100, 2, None) == 103  # earlier chunks' errors count
    assert _limit_crossing([10, 150], 0, 0, 0, None, 0.01) == 150  # a ratio counts after 100 records
    assert _limit_crossing([1, 2], 0, 0, 0, None, None) is None


def test_record_positions_survive_a_resume(tmp_path: Any) -> None:
    from cassandra_bulk_core.load import Checkpoint, _Positions

    cp = Checkpoint(str(tmp_path / "checkpoint.json"), "fp", "op", 1000)
    pos = _Positions(cp)
    assert pos.start("a.csv") == 0
    pos.seen(40)
    pos.finish()
    cp.finish("a.csv")
    assert pos.start("b.csv") == 40
    pos.seen(10)
    cp.write(force=True)  # killed while b.csv is being read
    again = _Positions(Checkpoint.read(cp.path))
    assert again.start("b.csv") == 40  # its offset from the checkpoint
    again.seen(25)
    again.finish()
    assert again.start("c.csv") == 65


def test_mapping_one_field_to_many_columns_and_two_fields_to_one_refused() -> None:
    from cassandra_bulk_core.load import _by_column
    from cassandra_bulk_core.table import TableInfo

    info = TableInfo("ks", "t", ("pk",), (), ("pk", "v1", "v2"), None)
    assert _by_column(info, {"pk": "pk", "v": ["v1", "v2"]}, ["pk", "v"]) == {"pk": "pk", "v1": "v", "v2": "v"}
    with pytest.raises(ConfigError, match="two fields into column 'v1'"):
        _by_column(info, {"pk": "pk", "a": "v1", "b": "v1"}, ["pk", "a", "b"])
    assert _by_column(info, None, ["PK", "v1"]) == {"pk": "PK", "v1": "v1"}


def test_cli_mapping_keeps_every_target_of_a_field() -> None:
    from cassandra_bulk_core.cli import _mapping

    assert _mapping("pk=pk, v=v1, v=v2, w:w1") == {"pk": "pk", "v": ["v1", "v2"], "w": "w1"}


def test_reject_lines_show_values_python_cannot_hold() -> None:
    """A rejected Parquet/Iceberg record with a nanosecond time or a year-10000 timestamp is shown
    in the reject file (Arrow's text for those values), instead of failing the load."""
    import pyarrow as pa

    from cassandra_bulk_core.sources import _row_json

    batch = pa.record_batch(
        [
            pa.array([1], pa.int32()),
            pa.array([123456789012], pa.time64("ns")),
            pa.array([253402300801000], pa.timestamp("ms")),
        ],
        names=["k", "t", "ts"],
    )
    assert json.loads(_row_json(batch, 0)) == {"k": 1, "t": "00:02:03.456789012", "ts": "10000-01-01 00:00:01.000"}
