"""Issue #16 item 4 on the real node: compaction of small files per range (every type, row for row),
idempotent, safe against a concurrent per-range export, then snapshot expiry and orphan removal;
the CLI, the Dagster op and the Airflow operator run the same engine call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import plan_ranges, resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, compaction, export_to_iceberg, load_catalog, verify
from cassandra_bulk_core.iceberg.maintenance import MaintenanceOptions, run_maintenance
from cassandra_bulk_core.sinks import SinkOptions
from tests.alltypes import EDGE_ROWS, create_and_fill, random_rows
from tests.arrow_plain import column_plain
from tests.conftest import connection_config

SPLITS = 4


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _export(conn: Any, keyspace: str, wh: Path, only: tuple[str, ...] | None = None, rows_per_file: int = 6) -> Any:
    cluster, sess = conn
    info = resolve_table(cluster, keyspace, "all_types")
    ice = IcebergOptions(warehouse=str(wh))
    options = ExportOptions(
        destination="", splits=SPLITS, only_ranges=only, sink=SinkOptions(max_rows_per_file=rows_per_file)
    )
    export_to_iceberg(cluster, sess, info, options, ice)
    return load_catalog(ice)


def _rows(table: Any) -> list[tuple[Any, ...]]:
    """Every row as plain values (engine-independent), sorted: a multiset to compare."""
    arrow = table.scan().to_arrow()
    cols = []
    for f in arrow.schema:
        doc = (f.metadata or {}).get(b"doc", b"").decode()
        cols.append(column_plain(arrow.column(f.name), doc.removeprefix("cql: ")))
    return sorted((tuple(repr(c[i]) for c in cols) for i in range(arrow.num_rows)), key=repr)


def _live_paths(table: Any) -> set[str]:
    return {t.file.file_path for t in table.scan().plan_files()}


def _filled(session: Any, keyspace: str) -> None:
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(120))


def test_compaction_keeps_every_row_then_expiry_and_orphans_free_the_small_files(
    conn: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    _filled(session, keyspace)
    ident = f"{keyspace}.all_types"
    catalog = _export(conn, keyspace, tmp_path / "wh")
    catalog = _export(conn, keyspace, tmp_path / "wh", only=(plan_ranges(SPLITS)[1].id,))  # a re-export: more history
    table = catalog.load_table(ident)
    before_rows, before_files = _rows(table), _live_paths(table)
    before_summary = table.current_snapshot().summary
    assert len(before_files) > 4 * SPLITS  # 6 rows per file: many small files per range

    result = compaction.rewrite_small_files(catalog, ident, 4 * 1024 * 1024)

    table = catalog.load_table(ident)
    after_files = _live_paths(table)
    assert len(after_files) == SPLITS and not after_files & before_files  # one file per range now
    assert result.count("rewritten") == SPLITS
    assert sum(r.files_before for r in result.ranges) == len(before_files)
    assert _rows(table) == before_rows
    summary = table.current_snapshot().summary
    assert summary["total-records"] == before_summary["total-records"]
    assert int(summary["total-data-files"]) == SPLITS < int(before_summary["total-data-files"])
    for r in result.ranges:  # each range: one snapshot that removed and added the same rows
        snap = table.snapshot_by_id(r.snapshot_id).summary
        assert snap["deleted-records"] == snap["added-records"] == str(r.rows)
        assert snap["cassandra-bulk.compacted-range"] == r.range_id
    cluster, sess = conn
    assert verify(cluster, sess, resolve_table(cluster, keyspace, "all_types"), table, plan_ranges(SPLITS)).ok

    again = compaction.rewrite_small_files(catalog, ident, 4 * 1024 * 1024)
    assert again.count("at-target") == SPLITS  # idempotent: nothing rewritten, no new snapshot
    assert catalog.load_table(ident).current_snapshot().snapshot_id == table.current_snapshot().snapshot_id

    done = run_maintenance(
        catalog,
        ident,
        MaintenanceOptions(expire_older_than=dt_zero(), remove_orphans_older_than=dt_zero()),
    )
    assert done.expired_snapshots and done.expired_snapshots > SPLITS
    removed = {p.removeprefix("file://") for p in done.orphan_files or []}
    assert {p.removeprefix("file://") for p in before_files} <= removed
    assert all(not Path(p.removeprefix("file://")).exists() for p in before_files)
    table = catalog.load_table(ident)
    assert _rows(table) == before_rows and len(table.snapshots()) == 1


def dt_zero() -> Any:
    import datetime as dt

    return dt.timedelta(0)


def test_a_concurrent_export_of_the_range_wins_and_other_ranges_commits_are_retried(
    conn: Any, keyspace: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _filled(session, keyspace)
    ident = f"{keyspace}.all_types"
    catalog = _export(conn, keyspace, tmp_path / "wh")
    # More rows in Cassandra: a re-export of a range now differs from what compaction read.
    session.execute(f"INSERT INTO {keyspace}.all_types (id, ck, t) VALUES (123456, 'late', 'x')")
    ids = [r.id for r in plan_ranges(SPLITS)]
    late_range = next(r.id for r in plan_ranges(SPLITS) if _token(session, keyspace, 123456) in r.tokens)
    victim, other = [r for r in ids if r != late_range][:2]  # victim's commit meets other's export
    real_rewrite, real_live, real_commit = compaction._rewrite_range, compaction._live_files, compaction._commit_range
    injected: list[str] = []
    committing: list[str] = []

    def rewrite_then_export(catalog_: Any, ident_: str, table: Any, range_id: str, *a: Any) -> Any:
        outcome = real_rewrite(catalog_, ident_, table, range_id, *a)
        if range_id == late_range:  # the range's own export commits between our read and our commit
            _export(conn, keyspace, tmp_path / "wh", only=(late_range,))
            injected.append(range_id)
        return outcome

    def commit(catalog_: Any, ident_: str, range_id: str, *a: Any) -> Any:
        committing.append(range_id)
        return real_commit(catalog_, ident_, range_id, *a)

    def live_then_other_commit(table: Any, range_id: str | None = None) -> Any:
        files = real_live(table, range_id)
        if committing and committing[-1] == victim and other not in injected:
            # after the victim's check, before its commit: another range's export lands first
            _export(conn, keyspace, tmp_path / "wh", only=(other,), rows_per_file=1000)
            injected.append(other)
        return files

    monkeypatch.setattr(compaction, "_rewrite_range", rewrite_then_export)
    monkeypatch.setattr(compaction, "_commit_range", commit)
    monkeypatch.setattr(compaction, "_live_files", live_then_other_commit)
    result = compaction.rewrite_small_files(catalog, ident, 4 * 1024 * 1024)
    monkeypatch.undo()

    assert len(injected) == 2
    by_id = {r.range_id: r for r in result.ranges}
    assert by_id[late_range].status == "conflict"
    assert by_id[victim].status == "rewritten"  # its commit was retried past the other range's
    assert by_id[other].status == "at-target"  # planned after its export: one file already
    assert all(r.status == "rewritten" for r in result.ranges if r.range_id not in (late_range, other))
    table = catalog.load_table(ident)
    cluster, sess = conn
    info = resolve_table(cluster, keyspace, "all_types")
    assert verify(cluster, sess, info, table, plan_ranges(SPLITS)).ok  # no range lost or doubled
    assert (123456, "late") in {(r["id"], r["ck"]) for r in table.scan().to_arrow().select(["id", "ck"]).to_pylist()}
    # the discarded rewrite of the conflicted range left no files behind
    leftovers = [p for p in (tmp_path / "wh").rglob("*-part-c*.parquet") if str(p) not in _live_paths(table)]
    assert not [p for p in leftovers if f"_cb_range={late_range}" in str(p)]
    # and the next run compacts it
    rerun = compaction.rewrite_small_files(catalog, ident, 4 * 1024 * 1024, ranges=[late_range])
    assert rerun.ranges[0].status == "rewritten"
    assert verify(cluster, sess, info, catalog.load_table(ident), plan_ranges(SPLITS)).ok


def _token(session: Any, keyspace: str, key: int) -> int:
    return int(session.execute(f"SELECT token(id) FROM {keyspace}.all_types WHERE id = {key}").one()[0])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "iceberg-maintenance", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_cli_rewrites_expires_and_removes_orphans_and_refuses_a_bad_size(
    conn: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    _filled(session, keyspace)
    wh = tmp_path / "wh"
    catalog = _export(conn, keyspace, wh)
    ident = f"{keyspace}.all_types"
    before = _rows(catalog.load_table(ident))
    base = ["--iceberg-table", ident, "--warehouse", str(wh)]
    bad = _cli(*base, "--rewrite-small-files", "--target-file-size", "12 parsecs")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "12 parsecs" in bad.stderr, bad.stderr
    unknown = _cli(*base, "--rewrite-small-files", "--ranges", "r2-of-4,r03-of-4")  # r2-of-4 is fine
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
    assert "r03-of-4 not in Iceberg table" in unknown.stderr and "r0-of-4 .. r3-of-4" in unknown.stderr
    out = _cli(
        *base,
        "--rewrite-small-files",
        "--target-file-size",
        "8MB",
        "--expire-older-than-hours",
        "0",
        "--remove-orphans-older-than-hours",
        "0",
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["rewrite_small_files"]["ranges_rewritten"] == SPLITS
    assert report["rewrite_small_files"]["files_after"] == SPLITS
    assert report["expired_snapshots"] >= SPLITS and len(report["orphan_files"]) > SPLITS
    table = catalog.load_table(ident)
    assert _rows(table) == before and len(_live_paths(table)) == SPLITS


def test_daily_tables_are_compacted_per_range_and_date(conn: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    import datetime as dt

    cluster, sess = conn
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    for k in range(120):
        session.execute(f"INSERT INTO {keyspace}.kv (k, v) VALUES (%s, %s)", (k, f"v{k}"))
    info = resolve_table(cluster, keyspace, "kv")
    options = ExportOptions(destination="", splits=2, sink=SinkOptions(max_rows_per_file=7))
    for day in (dt.date(2026, 11, 30), dt.date(2026, 12, 1)):
        ice = IcebergOptions(warehouse=str(tmp_path / "wh"), mode="daily", export_date=day)
        export_to_iceberg(cluster, sess, info, options, ice)
    catalog = load_catalog(ice)
    ident = f"{keyspace}.kv"
    before = sorted(catalog.load_table(ident).scan().to_arrow().to_pylist(), key=repr)
    result = compaction.rewrite_small_files(catalog, ident, 1024 * 1024)
    table = catalog.load_table(ident)
    parts = {(t.file.partition[0], t.file.partition[1]) for t in table.scan().plan_files()}
    assert len(_live_paths(table)) == len(parts) == 4  # one file per (range, date): dates never mixed
    assert result.count("rewritten") == 2 and all(r.rewritten_files > 2 for r in result.ranges)
    assert sorted(table.scan().to_arrow().to_pylist(), key=repr) == before and len(before) == 240
