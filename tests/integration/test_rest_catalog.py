"""Iceberg through a real REST catalog (Apache Iceberg's reference server) on the real node.

Concurrent per-range commits from 8 processes that also race to create the namespace and table,
schema evolution, daily mode, loading a snapshot back into Cassandra, and the catalog configured the
pyiceberg way (``.pyiceberg.yaml`` under ``PYICEBERG_HOME``, ``PYICEBERG_CATALOG__...`` variables).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core import plan_ranges, resolve_table
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg, load_catalog, operation_snapshot_id
from cassandra_bulk_core.load import LoadOptions, load_table
from cassandra_bulk_core.sources import IcebergSource
from tests.conftest import connection_config
from tools.rest_catalog import RestCatalogServer


@pytest.fixture
def conn(cassandra: Any) -> Any:
    cluster, sess = connection_config(cassandra).connect()
    yield cluster, sess
    cluster.shutdown()


def _fill_kv(session: Any, keyspace: str, n: int, table: str = "kv") -> dict[int, str]:
    session.execute(f"CREATE TABLE {keyspace}.{table} (k int PRIMARY KEY, v text, n bigint)")
    insert = session.prepare(f"INSERT INTO {keyspace}.{table} (k, v, n) VALUES (?, ?, ?)")
    rows = [(k, f"v{k}-{k * 7919 % 1000}", k * 1_000_003) for k in range(n)]
    execute_concurrent_with_args(session, insert, rows, concurrency=64, raise_on_first_error=True)
    return {r.k: (r.v, r.n) for r in session.execute(f"SELECT k, v, n FROM {keyspace}.{table}")}


def _cli(cassandra: Any, *args: str, env: dict[str, str] | None = None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cassandra_bulk_core",
        *args[:1],
        "-h",
        cassandra.contact_points[0],
        "--port",
        str(cassandra.port),
        *args[1:],
    ]


def _rest_props(rest: RestCatalogServer) -> list[str]:
    return [x for k, v in rest.properties().items() for x in ("--catalog-prop", f"{k}={v}")]


def test_eight_processes_create_and_commit_ranges_exactly_once(
    cassandra: Any, keyspace: str, session: Any, rest_catalog: RestCatalogServer
) -> None:
    """No table, no namespace yet: 8 processes each export one range at the same time, so they race
    to create the namespace and the table, then to commit; every range lands exactly once."""
    expected = _fill_kv(session, keyspace, 2000)
    base = _cli(cassandra, "export", "-t", f"{keyspace}.kv", "--to", "iceberg", "--splits", "8", "--no-progress")
    base += _rest_props(rest_catalog)
    procs = [
        subprocess.Popen([*base, "--ranges", r.id], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for r in plan_ranges(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()[-2000:]
    table = load_catalog(IcebergOptions(catalog_properties=rest_catalog.properties())).load_table(f"{keyspace}.kv")
    rows = table.scan().to_arrow().to_pylist()
    assert len(rows) == len(expected)  # no range twice
    assert {r["k"]: (r["v"], r["n"]) for r in rows} == expected
    ranges = [s.summary.additional_properties.get("cassandra-bulk.ranges") for s in table.snapshots()]
    assert sorted(r for r in ranges if r) == sorted(r.id for r in plan_ranges(8))  # one commit per range
    assert str(table.metadata_location).startswith(Path(rest_catalog.warehouse).as_uri().replace("///", "/"))
    # Two full re-exports at once (threads of this process): every range is replaced by both, at the
    # same time, through the REST server's optimistic commits; still exactly one copy of each row.
    session.execute(f"UPDATE {keyspace}.kv SET v = 'changed' WHERE k = 1")
    expected[1] = ("changed", expected[1][1])
    cluster, sess = connection_config(cassandra).connect()
    try:
        info = resolve_table(cluster, keyspace, "kv")
        ice = IcebergOptions(catalog_properties=rest_catalog.properties())
        opts = ExportOptions(destination="", splits=8)
        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(export_to_iceberg, cluster, sess, info, opts, ice) for _ in range(2)]
            assert [r.result(timeout=240).rows for r in runs] == [len(expected)] * 2
    finally:
        cluster.shutdown()
    table = load_catalog(ice).load_table(f"{keyspace}.kv")
    rows = table.scan().to_arrow().to_pylist()
    assert len(rows) == len(expected) and {r["k"]: (r["v"], r["n"]) for r in rows} == expected


def test_schema_evolution_daily_mode_and_load_back_from_a_snapshot(
    conn: Any, keyspace: str, session: Any, rest_catalog: RestCatalogServer, tmp_path: Path
) -> None:
    cluster, sess = conn
    props = rest_catalog.properties()
    expected = _fill_kv(session, keyspace, 400)
    info = resolve_table(cluster, keyspace, "kv")
    opts = ExportOptions(destination="", splits=4)
    first = export_to_iceberg(cluster, sess, info, opts, IcebergOptions(catalog_properties=props))
    # Schema evolution: a column added in Cassandra is added to the Iceberg table on the next export.
    session.execute(f"ALTER TABLE {keyspace}.kv ADD extra text")
    session.execute(f"UPDATE {keyspace}.kv SET extra = 'x', v = 'new' WHERE k = 5")
    info = resolve_table(cluster, keyspace, "kv")
    export_to_iceberg(cluster, sess, info, opts, IcebergOptions(catalog_properties=props))
    table = load_catalog(IcebergOptions(catalog_properties=props)).load_table(f"{keyspace}.kv")
    assert "extra" in table.schema().column_names
    now = {r["k"]: r for r in table.scan().to_arrow().to_pylist()}
    assert len(now) == 400 and now[5]["extra"] == "x" and now[5]["v"] == "new" and now[6]["extra"] is None

    # Load the first snapshot (before the ALTER and the update) into an empty table: exactly those rows.
    snap = operation_snapshot_id(table, first.operation_id)
    assert snap is not None
    session.execute(f"CREATE TABLE {keyspace}.restored (k int PRIMARY KEY, v text, n bigint)")
    src = IcebergSource(table=f"{keyspace}.kv", catalog_properties=props, snapshot_id=snap)
    result = load_table(
        cluster, sess, resolve_table(cluster, keyspace, "restored"), LoadOptions(iceberg=src, log_dir=str(tmp_path))
    )
    assert result.rows_written == 400
    restored = {r.k: (r.v, r.n) for r in session.execute(f"SELECT k, v, n FROM {keyspace}.restored")}
    assert restored == expected

    # Daily mode: each date keeps its own rows; re-running a date replaces that date only.
    day1, day2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)

    def daily(day: dt.date) -> None:
        ice = IcebergOptions(catalog_properties=props, mode="daily", export_date=day, table=f"{keyspace}.daily")
        export_to_iceberg(cluster, sess, info, opts, ice)

    daily(day1)
    session.execute(f"DELETE FROM {keyspace}.kv WHERE k = 0")
    daily(day2)
    session.execute(f"UPDATE {keyspace}.kv SET v = 'day2' WHERE k = 1")
    daily(day2)
    rows = load_catalog(IcebergOptions(catalog_properties=props)).load_table(f"{keyspace}.daily").scan().to_arrow()
    by_day: dict[dt.date, dict[int, str]] = {}
    for r in rows.to_pylist():
        by_day.setdefault(r["_cb_export_date"], {})[r["k"]] = r["v"]
    assert sum(len(v) for v in by_day.values()) == rows.num_rows == 799
    assert len(by_day[day1]) == 400 and by_day[day1][1] == expected[1][0]
    assert len(by_day[day2]) == 399 and 0 not in by_day[day2] and by_day[day2][1] == "day2"


def test_cli_takes_the_catalog_from_pyiceberg_yaml_and_environment(
    cassandra: Any, keyspace: str, session: Any, rest_catalog: RestCatalogServer, tmp_path: Path
) -> None:
    """``--catalog lake`` with ``PYICEBERG_HOME/.pyiceberg.yaml`` defining ``lake`` as the REST catalog;
    then a catalog defined only by ``PYICEBERG_CATALOG__<NAME>__<PROP>`` variables, read back the same."""
    expected = _fill_kv(session, keyspace, 200)
    home = tmp_path / "pyiceberg"
    home.mkdir()
    (home / ".pyiceberg.yaml").write_text(
        "catalog:\n  lake:\n"
        + "".join(f"    {k}: {v}\n" for k, v in rest_catalog.properties().items())
        + "    token: not-a-real-token-s3cr3t\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PYICEBERG_")}
    env["PYICEBERG_HOME"] = str(home)
    warehouse = tmp_path / "embedded-not-used"
    args = ["-t", f"{keyspace}.kv", "--to", "iceberg", "--splits", "2", "--no-progress", "--warehouse", str(warehouse)]
    out = subprocess.run(
        _cli(cassandra, "export", *args, "--catalog", "lake"),
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "s3cr3t" not in out.stdout + out.stderr
    assert not (warehouse / "catalog.db").exists()  # the REST catalog took it, not the embedded default
    table = load_catalog(IcebergOptions(catalog_properties=rest_catalog.properties())).load_table(f"{keyspace}.kv")
    assert {r["k"]: (r["v"], r["n"]) for r in table.scan().to_arrow().to_pylist()} == expected
    assert not any("s3cr3t" in v for v in table.properties.values())
    for snap in table.snapshots():
        assert not any("s3cr3t" in str(v) for v in snap.summary.additional_properties.values())

    # Environment variables only (no yaml), the table name overridden by an explicit --catalog-prop.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PYICEBERG_")}
    env["PYICEBERG_HOME"] = str(tmp_path / "empty")
    env["PYICEBERG_CATALOG__ENVCAT__TYPE"] = "rest"
    env["PYICEBERG_CATALOG__ENVCAT__URI"] = "http://127.0.0.63:1"  # wrong on purpose: overridden below
    env["PYICEBERG_CATALOG__ENVCAT__WAREHOUSE"] = rest_catalog.properties()["warehouse"]
    out = subprocess.run(
        _cli(
            cassandra,
            "export",
            *args,
            "--iceberg-table",
            f"{keyspace}.from_env",
            "--catalog",
            "envcat",
            "--catalog-prop",
            f"uri={rest_catalog.uri}",
        ),
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    table = load_catalog(IcebergOptions(catalog_properties=rest_catalog.properties())).load_table(
        f"{keyspace}.from_env"
    )
    assert {r["k"]: (r["v"], r["n"]) for r in table.scan().to_arrow().to_pylist()} == expected
