"""Iceberg faults on the real node: same-range and distinct-range commit races, leftovers of a
killed write cleaned when the range is redone, metadata orphans, and ``--resume``."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import ConfigError, plan_ranges, resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg, load_catalog, remove_orphan_files
from cassandra_bulk_core.iceberg.maintenance import list_with_mtimes, referenced_files
from cassandra_bulk_core.io import Storage
from tests.conftest import connection_config

ROWS = 400


@pytest.fixture
def kv(cassandra: Any, keyspace: str, session: Any) -> Any:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v) VALUES (?, ?)")
    for k in range(ROWS):
        session.execute(insert, (k, f"v{k}"))
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess, resolve_table(cluster, keyspace, "kv")
    cluster.shutdown()


def _race(jobs: list[Any]) -> list[BaseException]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # collected: a thread's exception would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return errors


def _rows(ice: IcebergOptions, name: str) -> list[int]:
    return sorted(load_catalog(ice).load_table(name).scan().to_arrow().column("k").to_pylist())


def test_same_range_and_distinct_range_commit_races_converge(kv: Any, keyspace: str, tmp_path: Path) -> None:
    """Two committers of the same range at once used to fail the loser with ``ValidationException:
    Added data files were found matching the filter``; now it retries its replace-commit. 3 rounds,
    then 8 distinct-range committers; each with its own catalog, as separate processes would be."""
    cluster, sess, info = kv
    ice = IcebergOptions(warehouse=str(tmp_path / "wh"))
    export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=8), ice)
    name = f"{keyspace}.kv"
    target = plan_ranges(8)[3].id

    def one(range_id: str) -> Any:
        only = ExportOptions(destination="", splits=8, only_ranges=(range_id,))
        return lambda: export_to_iceberg(cluster, sess, info, only, ice, catalog=load_catalog(ice))

    for _ in range(3):
        assert _race([one(target), one(target)]) == []
        assert _rows(ice, name) == list(range(ROWS))
    assert _race([one(r.id) for r in plan_ranges(8)]) == []
    assert _rows(ice, name) == list(range(ROWS))
    table = load_catalog(ice).load_table(name)
    same = [s for s in table.snapshots() if s.summary.additional_properties.get("cassandra-bulk.ranges") == target]
    assert len(same) >= 1 + 3 * 2 + 1  # every committer landed (none gave up)


def _age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


def test_killed_write_leftovers_removed_when_the_range_is_redone(kv: Any, keyspace: str, tmp_path: Path) -> None:
    """A write killed mid-way leaves its finished part and the hidden temp file of the part it was
    writing; redoing the range (a ``--resume`` does) commits and then removes both."""
    cluster, sess, info = kv
    ice = IcebergOptions(warehouse=str(tmp_path / "wh"))
    planned = plan_ranges(4)[1]  # the range whose write was killed: the others committed
    others = tuple(r.id for r in plan_ranges(4) if r != planned)
    export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4, only_ranges=others), ice)
    table = load_catalog(ice).load_table(f"{keyspace}.kv")
    range_dir = Path(table.location().removeprefix("file://")) / "data" / f"_cb_range={planned.id}"
    dead = "0123456789ab"
    range_dir.mkdir(parents=True, exist_ok=True)
    part = range_dir / f"{dead}-part-00000.parquet"
    temp = range_dir / f".{dead}-part-00001.parquet.tmp-{'f' * 32}"
    part.write_bytes(b"PAR1 half of a range")
    temp.write_bytes(b"PAR1 cut off")
    _age([part, temp], 3600)  # killed an hour ago
    fresh = range_dir / f".{'c' * 12}-part-00000.parquet.tmp-{'e' * 32}"
    fresh.write_bytes(b"another process, writing now")
    result = export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4, resume=True), ice)
    assert result.summary()["ranges_skipped"] == 3
    assert not part.exists() and not temp.exists()
    assert fresh.exists()  # a live write of the same range is left alone
    fresh.unlink()
    table = load_catalog(ice).load_table(f"{keyspace}.kv")
    on_disk = {str(range_dir / rel) for rel, _ in list_with_mtimes(Storage(str(range_dir)))}
    refs = {p.removeprefix("file://") for p in referenced_files(table)}
    assert on_disk <= refs  # nothing unreferenced stays: leftovers gone, our empty parts too
    assert _rows(ice, f"{keyspace}.kv") == list(range(ROWS))


def test_maintenance_removes_metadata_and_temp_orphans_older_than_the_threshold(
    kv: Any, keyspace: str, tmp_path: Path
) -> None:
    cluster, sess, info = kv
    ice = IcebergOptions(warehouse=str(tmp_path / "wh"))
    export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4), ice)
    export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4), ice)
    table = load_catalog(ice).load_table(f"{keyspace}.kv")
    root = Path(table.location().removeprefix("file://"))
    old_meta = root / "metadata" / "snap-1-0-deadbeef.avro"
    old_json = root / "metadata" / "99999-deadbeef.metadata.json"
    new_meta = root / "metadata" / "snap-2-0-cafebabe.avro"
    old_temp = root / "data" / "_cb_range=r0-of-4" / f".{'a' * 12}-part-00000.parquet.tmp-{'b' * 32}"
    for p in (old_meta, old_json, new_meta, old_temp):
        p.write_bytes(b"x")
    _age([old_meta, old_json, old_temp], 7200)
    current = {p for p in (root / "metadata").iterdir()} - {old_meta, old_json, new_meta}
    _age(sorted(current), 7200)  # referenced metadata, however old, stays
    removed = {p.removeprefix("file://") for p in remove_orphan_files(table, older_than=dt.timedelta(hours=1))}
    planted = {str(old_meta), str(old_json), str(old_temp)}
    # Besides the planted ones, only metadata files of commits retried under contention (the range
    # commits race) may be orphans too: unreferenced *.metadata.json, never data or manifests in use.
    assert planted <= removed and all(p.endswith(".metadata.json") for p in removed - planted)
    table = load_catalog(ice).load_table(f"{keyspace}.kv")
    # Everything the table still refers to stays: its current and logged metadata files, manifests and
    # manifest lists (the lost commits' metadata JSONs, which nothing refers to, may have gone).
    logged = {entry.metadata_file.removeprefix("file://") for entry in table.metadata.metadata_log}
    logged.add(table.metadata_location.removeprefix("file://"))
    assert not logged & removed, sorted(logged & removed)
    assert new_meta.exists() and all(p.exists() for p in current if str(p) not in removed)
    assert sorted(table.scan().to_arrow().column("k").to_pylist()) == list(range(ROWS))
    assert table.scan(snapshot_id=table.snapshots()[3].snapshot_id).to_arrow().num_rows == ROWS  # 1st run: time travel


def test_resume_skips_ranges_committed_by_the_same_export(kv: Any, keyspace: str, tmp_path: Path) -> None:
    """An interrupted run committed r0 and r1 of 4; ``--resume`` commits only r2 and r3; a second
    ``--resume`` skips all 4 with no new snapshot. Another export date, or no --resume, redoes them."""
    cluster, sess, info = kv
    ice = IcebergOptions(warehouse=str(tmp_path / "wh"))
    name = f"{keyspace}.kv"
    first = ExportOptions(destination="", splits=4, only_ranges=("r0-of-4", "r1-of-4"))
    export_to_iceberg(cluster, sess, info, first, ice)
    before = len(load_catalog(ice).load_table(name).snapshots())
    result = export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4, resume=True), ice)
    assert result.summary()["ranges_skipped"] == 2 and result.rows == ROWS
    table = load_catalog(ice).load_table(name)
    new = [s.summary.additional_properties["cassandra-bulk.ranges"] for s in table.snapshots()[before:]]
    assert sorted(new) == ["r2-of-4", "r3-of-4"]
    assert _rows(ice, name) == list(range(ROWS))
    again = export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4, resume=True), ice)
    assert again.summary()["ranges_skipped"] == 4 and again.rows == ROWS
    assert len(load_catalog(ice).load_table(name).snapshots()) == before + 2
    # other plan or export date: nothing counts as committed
    other = export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=8, resume=True), ice)
    assert other.summary()["ranges_skipped"] == 0
    with pytest.raises(ConfigError, match="--resume"):
        single = IcebergOptions(warehouse=str(tmp_path / "wh"), mode="single")
        export_to_iceberg(cluster, sess, info, ExportOptions(destination="", splits=4, resume=True), single)
