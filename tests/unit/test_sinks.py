"""File sinks and the local storage backend without Cassandra: rolling parts, atomic publish, abort.

``RangeWriter`` gets hand-made Arrow batches (what a scan yields) and writes into a local
:class:`~cassandra_bulk_core.io.Storage`; everything is checked on disk.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.io import Storage, StorageError
from cassandra_bulk_core.sinks import PartFile, RangeWriter, SinkOptions, part_name, stale_parts

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])


class Boom(Exception):
    pass


def batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.RecordBatch.from_arrays([pa.array(ids, pa.int64()), pa.array([f"n{i}" for i in ids])], schema=SCHEMA)


def on_disk(root: Path) -> list[str]:
    """Every file under ``root``, hidden temp files included (what a crash would leave)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def parquet_ids(root: Path, name: str) -> list[int]:
    return pq.read_table(root / name).column("id").to_pylist()


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(str(tmp_path / "out"))


# -- naming and options ------------------------------------------------------------------------------


def test_part_names_are_deterministic_per_range_and_format() -> None:
    assert part_name("r03-of-16", 0, SinkOptions()) == "r03-of-16-part-00000.parquet"
    assert part_name("r03-of-16", 12, SinkOptions(format="csv", compression="gzip")) == "r03-of-16-part-00012.csv.gz"
    assert (
        part_name("r00-of-01", 1, SinkOptions(format="jsonl", compression="zstd")) == "r00-of-01-part-00001.jsonl.zst"
    )


@pytest.mark.parametrize(
    "kwargs",
    [{"format": "orc"}, {"format": "parquet", "compression": "gzip2"}, {"format": "csv", "compression": "snappy"}],
)
def test_unknown_format_or_compression_is_a_config_error(kwargs: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        SinkOptions(**kwargs)  # type: ignore[arg-type]


def test_stream_compression_only_wraps_text_formats() -> None:
    assert SinkOptions(format="parquet", compression="zstd").stream_compression is None
    assert SinkOptions(format="csv", compression="none").stream_compression is None
    assert SinkOptions(format="jsonl", compression="gzip").stream_compression == "gzip"


# -- rolling -----------------------------------------------------------------------------------------


def test_parts_roll_every_max_rows_across_batches(storage: Storage) -> None:
    root = Path(storage.root)
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions(max_rows_per_file=10, row_group_size=4))
    writer.write(batch(0, 25))  # fills two parts and half of a third
    writer.write(batch(25, 7))
    writer.write(batch(32, 0))  # an empty batch changes nothing
    parts = writer.close()
    assert [p.rows for p in parts] == [10, 10, 10, 2]
    assert [p.path for p in parts] == [f"r00-of-01-part-{i:05d}.parquet" for i in range(4)]
    assert [p.bytes for p in parts] == [(root / p.path).stat().st_size for p in parts]
    ids = [i for p in parts for i in parquet_ids(root, p.path)]
    assert ids == list(range(32))
    assert on_disk(root) == [p.path for p in parts]  # no temp file left behind
    assert pq.read_schema(root / parts[0].path).equals(SCHEMA)


def test_without_a_row_limit_one_part_holds_everything(storage: Storage) -> None:
    writer = RangeWriter(storage, "r01-of-02", SCHEMA, SinkOptions(max_rows_per_file=None))
    for start in range(0, 5000, 1000):
        writer.write(batch(start, 1000))
    assert writer.close() == [PartFile("r01-of-02-part-00000.parquet", 5000, writer.parts[0].bytes)]
    assert parquet_ids(Path(storage.root), "r01-of-02-part-00000.parquet") == list(range(5000))


def test_an_exact_multiple_of_the_limit_opens_no_empty_last_part(storage: Storage) -> None:
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions(max_rows_per_file=5))
    writer.write(batch(0, 10))
    assert [p.rows for p in writer.close()] == [5, 5]


def test_an_empty_range_still_publishes_one_typed_part(storage: Storage) -> None:
    parts = RangeWriter(storage, "r02-of-04", SCHEMA, SinkOptions()).close()
    assert [(p.path, p.rows) for p in parts] == [("r02-of-04-part-00000.parquet", 0)]
    table = pq.read_table(Path(storage.root) / parts[0].path)
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)


@pytest.mark.parametrize(("fmt", "compression"), [("csv", None), ("csv", "gzip"), ("jsonl", None), ("jsonl", "gzip")])
def test_text_formats_roll_and_compress(storage: Storage, fmt: str, compression: str | None) -> None:
    options = SinkOptions(format=fmt, compression=compression, max_rows_per_file=4)
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, options)
    writer.write(batch(0, 6))
    parts = writer.close()
    assert [p.rows for p in parts] == [4, 2]
    suffix = ".gz" if compression else ""
    assert [p.path for p in parts] == [f"r00-of-01-part-0000{i}.{fmt}{suffix}" for i in range(2)]
    raw = (Path(storage.root) / parts[1].path).read_bytes()
    assert parts[1].bytes == len(raw)
    text = (gzip.decompress(raw) if compression else raw).decode()
    lines = text.splitlines()
    if fmt == "csv":
        assert len(lines) == 3 and "id" in lines[0] and "name" in lines[0]  # header + 2 records
    else:
        assert [json.loads(line)["id"] for line in lines] == [4, 5]


# -- retries: same names, stale parts removed ---------------------------------------------------------


def test_a_retry_overwrites_its_parts_and_removes_those_beyond_it(storage: Storage) -> None:
    root = Path(storage.root)
    first = RangeWriter(storage, "r00-of-02", SCHEMA, SinkOptions(max_rows_per_file=3))
    first.write(batch(0, 9))
    assert len(first.close()) == 3
    other = RangeWriter(storage, "r01-of-02", SCHEMA, SinkOptions(max_rows_per_file=3))
    other.write(batch(100, 4))
    other.close()
    retry = RangeWriter(storage, "r00-of-02", SCHEMA, SinkOptions(max_rows_per_file=3))
    retry.write(batch(50, 4))  # fewer rows this time: two parts, the third is stale
    parts = retry.close()
    assert [p.path for p in parts] == ["r00-of-02-part-00000.parquet", "r00-of-02-part-00001.parquet"]
    assert parquet_ids(root, parts[0].path) == [50, 51, 52]
    assert on_disk(root) == [
        "r00-of-02-part-00000.parquet",
        "r00-of-02-part-00001.parquet",
        "r01-of-02-part-00000.parquet",  # another range's parts are never touched
        "r01-of-02-part-00001.parquet",
    ]


def test_stale_parts_match_the_range_exactly(storage: Storage) -> None:
    for name in (
        "r1-part-00000.csv",
        "r1-part-00001.csv.gz",
        "r10-part-00000.csv",
        "r1-notes.txt",
        "x/r1-part-00002.csv",
    ):
        storage.write_bytes(name, b"")
    assert stale_parts(storage, "r1") == ["r1-part-00000.csv", "r1-part-00001.csv.gz", "x/r1-part-00002.csv"]


# -- atomic publish and abort -------------------------------------------------------------------------


def test_an_open_part_is_invisible_until_it_is_complete(storage: Storage) -> None:
    root = Path(storage.root)
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions(max_rows_per_file=10))
    writer.write(batch(0, 12))  # part 0 published, part 1 open
    assert storage.list() == ["r00-of-01-part-00000.parquet"]
    assert not storage.exists("r00-of-01-part-00001.parquet")
    hidden = [n for n in on_disk(root) if n.startswith(".")]
    assert len(hidden) == 1 and hidden[0].startswith(".r00-of-01-part-00001.parquet.tmp-")
    writer.close()
    assert storage.list() == ["r00-of-01-part-00000.parquet", "r00-of-01-part-00001.parquet"]
    assert on_disk(root) == storage.list()


def test_abort_leaves_nothing_of_the_open_part(storage: Storage) -> None:
    root = Path(storage.root)
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions())
    writer.write(batch(0, 100))
    writer.abort(Boom("scan failed"))
    assert on_disk(root) == []
    writer.abort()  # a second abort is harmless


def test_abort_keeps_the_previous_complete_version(storage: Storage) -> None:
    root = Path(storage.root)
    done = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions())
    done.write(batch(0, 5))
    done.close()
    before = (root / "r00-of-01-part-00000.parquet").read_bytes()
    retry = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions())
    retry.write(batch(1000, 50))
    retry.abort()
    assert on_disk(root) == ["r00-of-01-part-00000.parquet"]
    assert (root / "r00-of-01-part-00000.parquet").read_bytes() == before


def test_abort_after_rolling_keeps_published_parts_only(storage: Storage) -> None:
    """Parts already closed stay (the range has no manifest, so an export redoes it); the open one goes."""
    root = Path(storage.root)
    writer = RangeWriter(
        storage, "r00-of-01", SCHEMA, SinkOptions(format="csv", compression="gzip", max_rows_per_file=3)
    )
    writer.write(batch(0, 7))
    writer.abort(Boom())
    assert on_disk(root) == ["r00-of-01-part-00000.csv.gz", "r00-of-01-part-00001.csv.gz"]


def test_a_failing_write_aborts_cleanly(storage: Storage) -> None:
    """A batch that does not fit the schema fails inside the Parquet writer; abort removes the temp file."""
    root = Path(storage.root)
    writer = RangeWriter(storage, "r00-of-01", SCHEMA, SinkOptions())
    wrong = pa.RecordBatch.from_arrays([pa.array(["x"]), pa.array([1])], names=["id", "name"])
    with pytest.raises((ValueError, pa.ArrowException)):
        writer.write(wrong)
    writer.abort()
    assert on_disk(root) == []


# -- the local storage backend ------------------------------------------------------------------------


def test_local_storage_round_trip(tmp_path: Path) -> None:
    st = Storage(f"file://{tmp_path}/exports/t1")
    assert st.kind == "local" and st.uri == f"{tmp_path}/exports/t1"
    assert not (tmp_path / "exports").exists()  # nothing is created before the first write
    st.write_bytes("a/b.bin", b"hello")
    assert st.read_bytes("a/b.bin") == b"hello" and st.size("a/b.bin") == 5
    assert st.exists("a/b.bin") and not st.exists("a") and st.read_bytes("missing") is None
    assert st.uri_of("a/b.bin") == f"{tmp_path}/exports/t1/a/b.bin"
    st.delete("a/b.bin")
    st.delete("a/b.bin")  # already gone is fine
    assert st.list() == []


def test_local_storage_hides_temp_files_and_deletes_prefixes(storage: Storage) -> None:
    root = Path(storage.root)
    storage.write_bytes("p/one", b"1")
    storage.write_bytes("p/sub/two", b"2")
    storage.write_bytes("q/three", b"3")
    (root / "p" / ".one.tmp-0123456789abcdef0123456789abcdef").write_bytes(b"crashed writer")
    assert storage.list() == ["p/one", "p/sub/two", "q/three"]
    assert storage.list("p") == ["p/one", "p/sub/two"] and storage.list("nothing") == []
    storage.delete_prefix("p")
    assert storage.list() == ["q/three"]
    storage.delete_prefix("")
    assert on_disk(root) == []


def test_local_atomic_write_with_compression_reports_stored_size(storage: Storage) -> None:
    cm = storage.open_atomic("x.csv.zst", compression="zstd")
    with cm as f:
        f.write(b"a,b\n" * 1000)
    assert cm.bytes_written == storage.size("x.csv.zst") < 4000


def test_local_failed_write_leaves_no_temp_file(storage: Storage) -> None:
    root = Path(storage.root)
    with pytest.raises(Boom), storage.open_atomic("d/f.bin") as f:
        f.write(b"partial")
        raise Boom
    assert on_disk(root) == []


def test_local_paths_cannot_climb_out(storage: Storage) -> None:
    with pytest.raises(ValueError, match="inside"):
        storage.write_bytes("../escape", b"")
    with pytest.raises(ValueError, match="empty"):
        storage.read_bytes("/")


def test_local_unwritable_destination_is_a_one_line_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")  # a file where the directory should be: fails even for root
    st = Storage(str(blocker / "out"))
    with pytest.raises(StorageError) as info:
        st.check_writable()
    assert str(blocker / "out") in str(info.value) and "\n" not in str(info.value)
    assert os.listdir(tmp_path) == ["file"]


def test_remote_file_uri_is_refused() -> None:
    with pytest.raises(ConfigError, match="remote host"):
        Storage("file://otherhost/data")
