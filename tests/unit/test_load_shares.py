"""A load in several processes, without a cluster: which worker owns which block, that the workers'
blocks partition the load exactly as one process reads it (CSV, JSON Lines, Parquet; resumed or
not), that every worker sees the same positions, checkpoint merging, and the parent's checks."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.load import Checkpoint, Intervals, LoadOptions, LoadResult, _chunks, _Plan, _Positions
from cassandra_bulk_core.load.checkpoint import merge_checkpoints
from cassandra_bulk_core.load.processes import (
    MAX_AUTO_PROCESSES,
    _merge_logs,
    _with_workers,
    resolve_load_processes,
)
from cassandra_bulk_core.load.shares import Share
from cassandra_bulk_core.sources import FileSet, Target

K = pa.field("k", pa.int32(), metadata={b"cql_type": b"int"})
V = pa.field("v", pa.string(), metadata={b"cql_type": b"text"})


def _plan() -> _Plan:
    return _Plan(
        columns=["k", "v"],
        fields=[K, V],
        targets=[Target("k", K), Target("v", V)],
        keys=["k"],
        counter=False,
        writetime_fields={},
        ttl_fields={},
        row_timestamp=None,
        row_ttl=None,
        source_fields=["k", "v"],
        partition=("k",),
    )


# -- ownership -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_block_of_every_resource_has_exactly_one_owner(n: int) -> None:
    shares = [Share(k, n) for k in range(n)]
    for resource in range(7):
        for block in range(11):
            assert sum(s.owns(resource, block) for s in shares) == 1
    # A big file's blocks go round the workers; so do single-block files.
    assert [next(k for k in range(n) if shares[k].owns(0, b)) for b in range(2 * n)] == list(range(n)) * 2
    assert [next(k for k in range(n) if shares[k].owns(r, 0)) for r in range(2 * n)] == list(range(n)) * 2


def test_the_owner_predicate_sees_every_block_end_and_counts_blocks_per_resource() -> None:
    seen: list[int] = []
    share = Share(1, 2)
    owns = share.owner(0, seen.append)
    assert [owns(a, a + 10) for a in range(0, 50, 10)] == [False, True, False, True, False]
    assert seen == [10, 20, 30, 40, 50]  # theirs too: positions advance over the other worker's blocks
    again = share.owner(1)  # the next resource: the count starts over, shifted by one
    assert [again(a, a + 1) for a in range(4)] == [True, False, True, False]


def test_share_ids_fingerprints_and_bounds() -> None:
    assert Share(0, 2).id == "worker-0-of-2"
    assert Share(0, 2).fingerprint("abc") != Share(1, 2).fingerprint("abc") != Share(1, 3).fingerprint("abc")
    assert Share(0, 2).fingerprint("abc") != "abc"
    with pytest.raises(ValueError):
        Share(2, 2)


# -- the readers: the workers' blocks are one process's, partitioned ----------------------------------


def _write_sources(root: Path, fmt: str) -> str:
    """Three files, the middle one large (several blocks), the last one empty."""
    root.mkdir()
    sizes = {"csv": [5, 230_000, 0], "jsonl": [7, 23_000, 0], "parquet": [5, 60_000, 0]}[fmt]
    start = 0
    for i, n in enumerate(sizes):
        ks = list(range(start, start + n))
        start += n
        path = root / f"part-{i}.{fmt}"
        if fmt == "csv":
            path.write_text("k,v\n" + "".join(f"{k},value number {k} with some padding\n" for k in ks))
        elif fmt == "jsonl":
            path.write_text("".join(json.dumps({"k": k, "v": f"v{k}"}) + "\n" for k in ks))
        else:
            pq.write_table(pa.table({"k": pa.array(ks, pa.int32()), "v": [f"v{k}" for k in ks]}), path)
    return str(root)


def _read(
    source: str, fmt: str, share: Share | None, checkpoint: Checkpoint
) -> tuple[list[tuple[str, int, int]], dict[str, int], LoadResult]:
    """The chunks one worker (or one process) converts, and the record count it finds per resource."""
    files = FileSet(source, fmt)
    options = LoadOptions(source=source, format=fmt)
    result = LoadResult("op", "ks", "t", source)
    positions = _Positions(checkpoint)
    owner: Callable[[int], Callable[[int, int], bool]] | None = None
    if share is not None:

        def owner(index: int) -> Callable[[int, int], bool]:
            return share.owner(index, positions.seen)

    chunks = []
    for resource, resource_chunks in _chunks(
        fmt, files, None, options, _plan(), None, checkpoint, result, owner=owner, count_complete=True
    ):
        positions.start(resource)
        for chunk in resource_chunks:
            positions.seen(chunk.end)
            chunks.append((resource, chunk.first, chunk.end))
            assert chunk.ordinals == list(range(chunk.first, chunk.end))
        positions.finish()
    return chunks, dict(checkpoint.records), result


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("n", [2, 3])
def test_the_workers_blocks_partition_one_process_read_and_agree_on_positions(tmp_path: Path, fmt: str, n: int) -> None:
    source = _write_sources(tmp_path / "in", fmt)
    one, records, _ = _read(source, fmt, None, Checkpoint(str(tmp_path / "one.json"), "fp", "op", 0))
    assert len({c[0] for c in one}) == 2 and sum(e - f for _, f, e in one) == sum(records.values())
    big = [c for c in one if c[0].endswith(f"part-1.{fmt}")]
    assert len(big) >= 2, "the large file must have several blocks"
    parts = []
    for k in range(n):
        mine, their_records, _ = _read(source, fmt, Share(k, n), Checkpoint(str(tmp_path / f"{k}.json"), "fp", "op", 0))
        assert their_records == records  # same positions: same offsets, same write times
        parts.append(mine)
    together = sorted(c for part in parts for c in part)
    assert together == sorted(one)  # every block once, in exactly one worker
    assert sum(1 for part in parts if part) >= 2  # the work is shared


def test_a_resumed_worker_keeps_its_blocks_and_skips_its_finished_ones(tmp_path: Path) -> None:
    source = _write_sources(tmp_path / "in", "csv")
    share = Share(1, 2)
    first, records, _ = _read(source, "csv", share, Checkpoint(str(tmp_path / "a.json"), "fp", "op", 0))
    assert len(first) >= 2
    # The run it resumes finished its first block, and the first file (complete).
    resumed = Checkpoint(str(tmp_path / "b.json"), "fp", "op", 0)
    small = next(r for r in records if r.endswith("part-0.csv"))
    resumed.done[small].add(0, records[small])
    resumed.complete.add(small)
    resumed.offsets.update({small: 0})
    resumed.records.update({small: records[small]})
    done_resource, a, b = first[0]
    if done_resource != small:
        resumed.done[done_resource].add(a, b)
    again, again_records, result = _read(source, "csv", share, resumed)
    assert again == [c for c in first if c[0] != small and c != (done_resource, a, b)]
    assert again_records == records
    assert result.skipped_resumed == records[small] + (b - a if done_resource != small else 0)


def test_complete_resources_are_counted_as_resumed_by_one_worker_only(tmp_path: Path) -> None:
    source = _write_sources(tmp_path / "in", "jsonl")
    _, records, _ = _read(source, "jsonl", None, Checkpoint(str(tmp_path / "x.json"), "fp", "op", 0))
    cp = Checkpoint(str(tmp_path / "y.json"), "fp", "op", 0)
    for name, count in records.items():
        cp.done[name].add(0, count)
        cp.complete.add(name)
    files = FileSet(source, "jsonl")
    options = LoadOptions(source=source, format="jsonl")
    counted = []
    for count_complete in (True, False):
        result = LoadResult("op", "ks", "t", source)
        assert not list(
            _chunks("jsonl", files, None, options, _plan(), None, cp, result, count_complete=count_complete)
        )
        counted.append(result.skipped_resumed)
    assert counted == [sum(records.values()), 0]


# -- checkpoints -----------------------------------------------------------------------------------


def test_merging_workers_checkpoints() -> None:
    start = Checkpoint("/x/checkpoint.json", "fp", "op", 123)
    start.done["a"].add(0, 10)
    start.complete.add("a")
    start.offsets.update({"a": 0, "b": 10})
    start.records["a"] = 10
    w0 = Checkpoint("/x/w0", "fp0", "op", 123)
    w0.done["b"].add(0, 5)
    w0.done["b"].add(10, 15)
    w0.complete.update({"a", "b"})
    w0.offsets.update({"a": 0, "b": 10, "c": 40})
    w0.records.update({"a": 10, "b": 30})
    w1 = Checkpoint("/x/w1", "fp1", "op", 123)
    w1.done["b"].add(5, 10)
    w1.done["b"].add(15, 30)
    w1.complete.update({"a"})
    merged = merge_checkpoints(start, [w0, w1], "/x/checkpoint.json")
    assert (merged.fingerprint, merged.operation_id, merged.timestamp) == ("fp", "op", 123)
    assert merged.done["b"].spans == [[0, 30]] and merged.done["a"].spans == [[0, 10]]
    assert merged.complete == {"a"}  # b: not every worker has finished its share of it
    w1.complete.add("b")
    assert merge_checkpoints(start, [w0, w1], "/x/c").complete == {"a", "b"}
    assert merge_checkpoints(start, [w0, None], "/x/c").complete == {"a"}  # no file yet: where it started
    assert merged.offsets == {"a": 0, "b": 10, "c": 40} and merged.records == {"a": 10, "b": 30}
    assert Intervals.union([Intervals([[5, 8]]), Intervals([[0, 2], [8, 9]])]).spans == [[0, 2], [5, 9]]


def test_worker_checkpoints_carry_their_share_and_beside_the_load_are_merged_in(tmp_path: Path) -> None:
    op = tmp_path / "load_1_op"
    top = Checkpoint(str(op / "checkpoint.json"), "fp", "op", 7)
    top.done["r"].add(0, 3)
    os.makedirs(op)
    top.write(force=True)
    for k, span in ((0, (3, 6)), (1, (6, 9))):
        (op / f"worker-{k}-of-2").mkdir()
        worker = Checkpoint(str(op / f"worker-{k}-of-2" / "checkpoint.json"), Share(k, 2).fingerprint("fp"), "op", 7)
        worker.share, worker.base_fingerprint = (k, 2), "fp"
        worker.done["r"].add(*span)
        worker.write(force=True)
    back = Checkpoint.read(str(op / "worker-1-of-2" / "checkpoint.json"))
    assert back.share == (1, 2) and back.base_fingerprint == "fp"
    assert Checkpoint.read(str(op / "checkpoint.json")).share is None
    merged = _with_workers(Checkpoint.read(str(op / "checkpoint.json")), str(op / "checkpoint.json"))
    assert merged.done["r"].spans == [[0, 9]]
    assert "share" not in json.loads((op / "checkpoint.json").read_text())  # a one-process file, as before


# -- the parent's checks and files ---------------------------------------------------------------------


def test_how_many_processes() -> None:
    csv = LoadOptions(source="in.csv")
    assert resolve_load_processes(1, csv) == 1 and resolve_load_processes(3, csv) == 3
    assert resolve_load_processes(0, csv) == max(1, min(os.cpu_count() or 1, MAX_AUTO_PROCESSES))
    stdin = LoadOptions(source="-", format="csv")
    assert resolve_load_processes(0, stdin) == 1 and resolve_load_processes(1, stdin) == 1
    with pytest.raises(ConfigError, match="standard input"):
        resolve_load_processes(2, stdin)
    assert resolve_load_processes(2, LoadOptions(source="-", format="iceberg")) == 2  # "-": the table's name
    with pytest.raises(ConfigError, match="--processes"):
        resolve_load_processes(-1, csv)


def test_reject_files_are_merged_with_one_header(tmp_path: Path) -> None:
    dirs = []
    for k in range(3):
        d = tmp_path / f"worker-{k}-of-3"
        d.mkdir()
        dirs.append(str(d))
        if k != 1:  # worker 1 rejected nothing
            (d / "rejects.csv").write_text(f'k,v\n{k},"a\nb"\n')
            (d / "errors.log").write_text(json.dumps({"record": k}) + "\n")
    _merge_logs(str(tmp_path), dirs, "csv", "k,v")
    assert (tmp_path / "rejects.csv").read_text() == 'k,v\n0,"a\nb"\n2,"a\nb"\n'
    assert [json.loads(line)["record"] for line in (tmp_path / "errors.log").read_text().splitlines()] == [0, 2]
    assert not (tmp_path / "unknown.csv").exists()


def test_the_cli_takes_processes(monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from cassandra_bulk_core.cli import cli

    out = CliRunner().invoke(cli, ["load", "--help"])
    assert "--processes" in out.output
    refused = CliRunner().invoke(cli, ["load", "-t", "ks.t", "--processes", "-1"])
    assert refused.exit_code == 2
