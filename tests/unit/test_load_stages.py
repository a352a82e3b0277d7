"""The load's stages without a node: checkpoint (intervals, write/read, resume fingerprint),
mapping (``-m`` forms, missing/extra fields, duplicate targets, positions, ``now()``) and batching
(grouping by partition and by replica set)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from cassandra.cqltypes import CounterColumnType, DateType, Int32Type, ListType, TimeUUIDType, UTF8Type

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.load import Checkpoint, Intervals, LoadOptions, _find_checkpoint, _fingerprint
from cassandra_bulk_core.load.batching import _group, _group_singles, _replica_function
from cassandra_bulk_core.load.inputs import open_source
from cassandra_bulk_core.load.mapping import _resolve, function_values, positional, with_functions
from cassandra_bulk_core.load.statements import _ChunkState, _Write
from cassandra_bulk_core.sources import Chunk
from cassandra_bulk_core.table import TableInfo
from cassandra_bulk_core.text_codecs import CsvOptions

# -- checkpoint ------------------------------------------------------------------------------------


def test_intervals_merge_overlapping_and_adjacent_spans() -> None:
    iv = Intervals([[20, 30]])
    iv.add(5, 5)  # empty: ignored
    iv.add(0, 10)
    iv.add(10, 12)  # adjacent: merged
    iv.add(25, 40)  # overlapping: merged
    assert iv.spans == [[0, 12], [20, 40]]
    assert iv.covers(0, 12) and iv.covers(21, 39) and not iv.covers(11, 21)
    assert iv.total() == 32
    iv.add(12, 20)
    assert iv.spans == [[0, 40]]


def test_checkpoint_round_trip(tmp_path: Any) -> None:
    cp = Checkpoint(str(tmp_path / "checkpoint.json"), "fp1", "op1", 1_700_000_000_000_000)
    cp.mark("a.csv", 0, 100)
    cp.mark("a.csv", 200, 300)
    cp.finish("a.csv")
    cp.offsets["a.csv"], cp.records["a.csv"] = 0, 300
    cp.offsets["b.csv"] = 300
    cp.mark("b.csv", 0, 50)
    cp.write(force=True)
    back = Checkpoint.read(cp.path)
    assert (back.fingerprint, back.operation_id, back.timestamp) == ("fp1", "op1", 1_700_000_000_000_000)
    assert back.done["a.csv"].spans == [[0, 100], [200, 300]] and back.done["b.csv"].spans == [[0, 50]]
    assert back.complete == {"a.csv"}
    assert back.offsets == {"a.csv": 0, "b.csv": 300} and back.records == {"a.csv": 300}
    assert not [n for n in os.listdir(tmp_path) if ".tmp-" in n]  # the temp file was renamed


def test_checkpoint_writes_at_most_every_two_seconds_unless_forced(tmp_path: Any) -> None:
    cp = Checkpoint(str(tmp_path / "checkpoint.json"), "fp", "op", 1)
    cp.write(force=True)
    cp.mark("a", 0, 10)
    cp.write()  # too soon: skipped
    assert json.loads((tmp_path / "checkpoint.json").read_text())["resources"] == {}
    cp.write(force=True)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["resources"]["a"]["done"] == [[0, 10]]


def _info(**types: Any) -> TableInfo:
    """A table ``k`` (partition key), ``c`` (clustering, if given), and the other columns given."""
    cql = {
        Int32Type: "int",
        UTF8Type: "text",
        DateType: "timestamp",
        TimeUUIDType: "timeuuid",
        CounterColumnType: "counter",
    }
    statics = set(types.pop("statics", ()))
    cols = {}
    for name, t in types.items():
        name_cql = cql.get(t) or f"list<{cql[t.subtypes[0]]}>"
        cols[name] = SimpleNamespace(cql_type=name_cql, is_static=name in statics, driver_type=t)
    clustering = ("c",) if "c" in cols else ()
    return TableInfo("ks", "t", ("k",), clustering, tuple(cols), SimpleNamespace(columns=cols))


class _Session:
    """``prepare`` of the SELECT that finds each column's driver type."""

    def __init__(self, info: TableInfo):
        self.info = info

    def prepare(self, cql: str) -> Any:
        names = [n.strip() for n in cql.removeprefix("SELECT ").split(" FROM ")[0].split(",")]
        cols = self.info.metadata.columns
        return SimpleNamespace(result_metadata=[("ks", "t", n, cols[n].driver_type) for n in names])


def _plan(info: TableInfo, fields: list[str] | None, **options: Any) -> Any:
    return _resolve(_Session(info), info, LoadOptions(**options), fields)


def test_fingerprint_tells_loads_apart_and_finds_the_newest_checkpoint(tmp_path: Any) -> None:
    info = _info(k=Int32Type, v=UTF8Type)
    base = LoadOptions(source="data.csv")
    fp = _fingerprint(info, base, "csv", None)
    assert fp == _fingerprint(info, LoadOptions(source="data.csv", max_errors=5), "csv", None)  # not part of it
    others = [
        _fingerprint(info, replace(base, source="other.csv"), "csv", None),
        _fingerprint(info, replace(base, mapping={"k": "k"}), "csv", None),
        _fingerprint(info, replace(base, only_range="r01-of-04"), "csv", None),
        _fingerprint(info, base, "jsonl", None),
        _fingerprint(info, base, "iceberg", 7),
    ]
    assert fp not in others and len(set(others)) == len(others)
    logs = tmp_path / "logs"
    assert _find_checkpoint(str(logs), fp) is None  # no log directory yet
    for name, their_fp, age in (("load_a_1", fp, 20), ("load_b_2", fp, 10), ("load_c_3", others[0], 0)):
        Checkpoint(str(logs / name / "checkpoint.json"), their_fp, name, 1)
        os.makedirs(logs / name)
        Checkpoint(str(logs / name / "checkpoint.json"), their_fp, name, 1).write(force=True)
        os.utime(logs / name / "checkpoint.json", (time.time() - age, time.time() - age))
    os.makedirs(logs / "load_d_4")
    (logs / "load_d_4" / "checkpoint.json").write_text("{not json")  # a torn file is skipped
    os.makedirs(logs / "unload_e")
    Checkpoint(str(logs / "unload_e" / "checkpoint.json"), fp, "e", 1).write(force=True)  # not a load's
    assert _find_checkpoint(str(logs), fp) == str(logs / "load_b_2" / "checkpoint.json")
    assert _find_checkpoint(str(logs), others[0]) == str(logs / "load_c_3" / "checkpoint.json")


# -- mapping ---------------------------------------------------------------------------------------


def test_positional_mappings() -> None:
    assert positional({"0": "k", "1": "v"}) and positional({"0": "k", "now()": "ts"})
    assert not positional({"k": "k", "1": "v"}) and not positional({"now()": "ts"}) and not positional(None)


def test_default_mapping_is_by_name_and_refuses_unfilled_columns() -> None:
    info = _info(k=Int32Type, v=UTF8Type, w=Int32Type)
    plan = _plan(info, ["k", "V", "w"])  # case-insensitive when no field has the exact name
    assert plan.columns == ["k", "v", "w"] and [t.source for t in plan.targets] == ["k", "V", "w"]
    with pytest.raises(ConfigError, match=r"no source field for column\(s\) w"):
        _plan(info, ["k", "v"])
    assert _plan(info, ["k", "v"], allow_missing_fields=True).columns == ["k", "v"]
    with pytest.raises(ConfigError, match=r"primary key column\(s\) k"):
        _plan(info, ["v", "w"], allow_missing_fields=True)


def test_mapping_missing_and_extra_fields() -> None:
    info = _info(k=Int32Type, v=UTF8Type, w=Int32Type)
    with pytest.raises(ConfigError, match=r"no field\(s\) x named in the mapping"):
        _plan(info, ["k", "v"], mapping={"k": "k", "x": "w"})
    plan = _plan(info, ["k", "v"], mapping={"k": "k", "x": "w"}, allow_missing_fields=True)
    assert plan.columns == ["k"]
    plan = _plan(info, ["k", "v", "w", "junk", "writetime(v)", "_cb_range"], mapping={"k": "k", "v": "v"})
    assert plan.unmapped == ("w", "junk")  # reported; write times and export metadata are not extra
    with pytest.raises(ConfigError, match=r"source field\(s\) w, junk map to no column"):
        _plan(info, ["k", "v", "w", "junk"], mapping={"k": "k", "v": "v"}, allow_extra_fields=False)
    with pytest.raises(ConfigError, match="mapping names column"):
        _plan(info, ["k"], mapping={"k": "k", "v": "nope"})


def test_mapping_duplicate_targets() -> None:
    info = _info(k=Int32Type, v=UTF8Type, w=UTF8Type)
    plan = _plan(info, ["k", "x"], mapping={"k": "k", "x": ["v", "w"]})  # one field, two columns
    assert {t.field.name: t.source for t in plan.targets} == {"k": "k", "v": "x", "w": "x"}
    with pytest.raises(ConfigError, match="two fields into column 'v'"):
        _plan(info, ["k", "a", "b"], mapping={"k": "k", "a": "v", "b": "v"})


def test_mapping_write_times_statics_lists_and_counters() -> None:
    info = _info(k=Int32Type, c=Int32Type, s=UTF8Type, l=ListType.apply_parameters([Int32Type]), statics=["s"])
    plan = _plan(info, ["k", "c", "s", "l", "writetime(s)", "ttl(s)"])
    assert plan.keys == ["k", "c"] and plan.static_columns == {"s"} and plan.list_columns == {"l"}
    assert plan.writetime_fields == {"s": "writetime(s)"} and plan.ttl_fields == {"s": "ttl(s)"}
    fixed = _plan(info, ["k", "c", "s", "l", "writetime(s)"], write_timestamp=5)
    assert not fixed.writetime_fields  # a fixed write time wins over the source's
    with pytest.raises(ConfigError, match="no field 'when'"):
        _plan(info, ["k", "c", "s", "l"], timestamp_field="when")
    counters = _info(k=Int32Type, n=CounterColumnType)
    assert _plan(counters, ["k", "n", "writetime(n)"]).counter
    assert not _plan(counters, ["k", "n", "writetime(n)"]).writetime_fields
    with pytest.raises(ConfigError, match="counter tables take no write timestamp"):
        _plan(counters, ["k", "n"], ttl=60)


def test_now_in_a_mapping_is_one_value_per_load() -> None:
    info = _info(k=Int32Type, v=UTF8Type, ts=DateType, tu=TimeUUIDType)
    plan = _plan(info, ["k", "v"], mapping={"k": "k", "v": "v", "now()": ["ts", "tu"]})
    assert plan.columns == ["k", "v", "ts", "tu"] and plan.functions == {"ts": "now()", "tu": "now()"}
    assert [t.source for t in plan.targets] == ["k", "v"]  # nothing is read from the source for them
    micros = 1_700_000_000_123_456
    values = function_values(plan, micros, "op1")
    assert values["ts"].as_py().timestamp() == pytest.approx(1_700_000_000.123)
    tu = values["tu"].as_py()
    assert tu.version == 1 and (tu.time - 0x01B21DD213814000) // 10 == micros
    assert function_values(plan, micros, "op1") == values  # a resumed load writes the same value
    assert function_values(plan, micros, "op2")["tu"] != values["tu"]
    chunk = Chunk("r", pa.RecordBatch.from_pydict({"k": [1, 2], "v": ["a", None]}), [0, 1], 0, 2)
    out = with_functions(chunk, plan, values).batch
    assert out.schema.names == ["k", "v", "ts", "tu"] and out.column(2).to_pylist() == [values["ts"].as_py()] * 2
    with pytest.raises(ConfigError, match="timestamp or timeuuid column, not 'v'"):
        _plan(info, ["k"], mapping={"k": "k", "now()": "v"})


def test_header_less_csv_mapped_by_position(tmp_path: Any) -> None:
    info = _info(k=Int32Type, v=UTF8Type)
    path = tmp_path / "data.csv"
    path.write_text('\n1,"a,\nb",x\n2,b,y\n')  # a blank line, a quoted line break
    options = LoadOptions(source=str(path), mapping={"0": "k", "1": "v"}, csv=CsvOptions(header=False))
    source = open_source(info, options, "csv")
    assert source.fields == ["0", "1", "2"] and source.header is None
    plan = _resolve(_Session(info), info, options, source.fields)
    assert [t.source for t in plan.targets] == ["0", "1"] and plan.unmapped == ("2",)
    # Without a mapping by position the fields are the table's columns, as before.
    by_name = open_source(info, replace(options, mapping=None), "csv")
    assert by_name.fields == ["k", "v"]
    # A mapping past the first record's width names every position up to it.
    wide = open_source(info, replace(options, mapping={"0": "k", "4": "v"}), "csv")
    assert wide.fields == ["0", "1", "2", "3", "4"]


# -- batching --------------------------------------------------------------------------------------


class _W(_Write):
    """A write whose lone statement is just its name (no prepared statement needed)."""

    def statement(self) -> Any:
        return ("single", self.values)


def _writes(keys: list[bytes]) -> list[_W]:
    prepared = SimpleNamespace(query_id=b"q", keyspace="ks")
    return [_W(prepared, (f"row{i}",), key) for i, key in enumerate(keys)]


def _state(n: int) -> _ChunkState:
    return _ChunkState(Chunk("r", pa.RecordBatch.from_pydict({"k": list(range(n))}), list(range(n)), 0, n))


def _rows_of(works: list[Any]) -> list[list[int]]:
    return [[r for _, r in w.rows] for w in works]


def test_singles_grouped_by_partition() -> None:
    writes = _writes([b"a", b"b", b"a", b"a", b"c"])
    order = list(range(5))
    st = _state(5)
    options = LoadOptions(batch_mode="partition", max_batch_statements=2)
    works = list(_group_singles(order, writes, st, options, None, None, row_bytes=10))
    assert _rows_of(works) == [[0, 2], [3], [1], [4]]  # partition a cut at 2 statements
    assert works[0].statement.routing_key == b"a" and len(works[0].singles) == 2
    assert works[1].statement == ("single", ("row3",))
    # The byte bound becomes a row count from the average row size.
    tight = replace(options, max_batch_statements=32, max_batch_bytes=25)
    assert _rows_of(list(_group_singles(order, writes, st, tight, None, None, row_bytes=10)))[0] == [0, 2]
    disabled = replace(options, batch_mode="disabled")
    assert _rows_of(list(_group_singles(order, writes, st, disabled, None, None, 10))) == [[0], [1], [2], [3], [4]]


def _cluster(ring: list[int], owners: dict[int, list[str]]) -> Any:
    """A cluster whose vnode ending at each ring token is replicated on ``owners[token]``."""
    from cassandra.murmur3 import murmur3

    calls: list[bytes] = []

    def get_replicas(keyspace: str, key: bytes) -> list[Any]:
        calls.append(key)
        token = murmur3(key)
        owner = next((t for t in sorted(ring) if token <= t), min(ring))
        return [SimpleNamespace(endpoint=e) for e in owners[owner]]

    token_map = SimpleNamespace(ring=[SimpleNamespace(value=t) for t in ring])
    return SimpleNamespace(metadata=SimpleNamespace(token_map=token_map, get_replicas=get_replicas), calls=calls)


def test_replica_sets_are_looked_up_once_per_vnode() -> None:
    from cassandra.murmur3 import murmur3

    keys = [str(i).encode() for i in range(40)]
    cluster = _cluster([-(2**62), 0, 2**62], {-(2**62): ["n1", "n2"], 0: ["n2", "n3"], 2**62: ["n3", "n1"]})
    replicas_of = _replica_function(cluster, "ks")
    ids = {k: replicas_of(k) for k in keys}
    assert len(cluster.calls) == 3  # one look-up per vnode, not per key
    for k in keys:
        t = murmur3(k)
        expected = ("n1", "n2") if t <= -(2**62) or t > 2**62 else ("n2", "n3") if t <= 0 else ("n1", "n3")
        assert ids[k] == expected
    empty = SimpleNamespace(metadata=SimpleNamespace(token_map=None))
    assert _replica_function(empty, "ks")(b"x") == 0


def test_singles_grouped_by_replica_set() -> None:
    keys = [b"a", b"b", b"a", b"c", b"d", b"e"]
    replica = {b"a": "R1", b"b": "R1", b"c": "R2", b"d": "R1", b"e": "R2"}
    writes, order, st = _writes(keys), list(range(6)), _state(6)
    auto = LoadOptions(batch_mode="auto", max_batch_partitions=2)
    # auto: partition a (two rows) is a batch; the lone rows go by replica set, two partitions a batch.
    assert _rows_of(list(_group_singles(order, writes, st, auto, replica.get, None, 10))) == [[0, 2], [1, 4], [3, 5]]
    by_set = replace(auto, batch_mode="replica-set", max_batch_partitions=10)
    assert _rows_of(list(_group_singles(order, writes, st, by_set, replica.get, None, 10))) == [[0, 2, 1, 4], [3, 5]]


def test_rows_of_several_writes_batched_within_bounds() -> None:
    from cassandra.query import BatchStatement, BatchType

    keys = [b"a", b"a", b"b", b"c", b"a"]
    writes = _writes(keys * 2)
    per_row = {r: [writes[r], writes[r + 5]] for r in range(5)}  # two column groups a row
    order, st = list(range(5)), _state(5)
    args = (None, BatchStatement, BatchType, 10)
    partition = LoadOptions(batch_mode="partition", max_batch_statements=4)
    works = list(_group(order, per_row, st, partition, None, *args))
    assert _rows_of(works) == [[0, 1], [4], [2], [3]]  # 4 statements a batch at most
    assert len(works[0].statement._statements_and_parameters) == 4 and works[0].parts[0][0] == (st, 0)
    lone = works[1].statement  # one row alone: its two writes in one batch of one partition
    assert len(lone._statements_and_parameters) == 2 and lone.routing_key == b"a"
    replica = {b"a": "R1", b"b": "R1", b"c": "R1"}
    by_set = LoadOptions(batch_mode="replica-set", max_batch_statements=32, max_batch_partitions=2)
    assert _rows_of(list(_group(order, per_row, st, by_set, replica.get, *args))) == [[0, 1, 4, 2], [3]]
    disabled = LoadOptions(batch_mode="disabled")
    assert _rows_of(list(_group(order, per_row, st, disabled, None, *args))) == [[0], [1], [2], [3], [4]]
