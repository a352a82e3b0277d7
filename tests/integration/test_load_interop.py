"""DSBulk interop (its Maven Central modules, run on Java 17): CSV unloaded by DSBulk loads with
cassandra-bulk, and CSV exported by cassandra-bulk loads with DSBulk; both equal the source."""

from __future__ import annotations

import decimal
import random
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.export import ExportOptions, export_table
from cassandra_bulk_core.load import LoadOptions, load_table
from cassandra_bulk_core.sinks import SinkOptions
from tests.alltypes import plain
from tests.conftest import connection_config

pytestmark = pytest.mark.interop

TABLE = """CREATE TABLE {ks}.{t} (
    id int, ck text, i bigint, d double, de decimal, b boolean, bl blob, u uuid, ts timestamp, dt date,
    tm time, ip inet, s set<text>, m map<text, int>, l list<int>, tp frozen<tuple<int, text>>,
    PRIMARY KEY ((id), ck))"""


def _fill(session: Any, ks: str, n: int) -> None:
    import datetime as dt

    from cassandra.concurrent import execute_concurrent_with_args

    rng = random.Random(3)
    insert = session.prepare(
        f"INSERT INTO {ks}.src (id, ck, i, d, de, b, bl, u, ts, dt, tm, ip, s, m, l, tp) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    rows = []
    for k in range(n):
        rows.append(
            (
                k // 3,
                f'c{k % 3}, "q" é',
                rng.randint(-(2**63), 2**63 - 1),
                rng.uniform(-1e9, 1e9),
                decimal.Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 6)),
                rng.random() < 0.5,
                rng.randbytes(rng.randint(0, 16)),
                uuid.UUID(int=rng.getrandbits(128)),
                dt.datetime(2020, 1, 1) + dt.timedelta(milliseconds=rng.randint(0, 10**11)),
                dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(0, 10000)),
                dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999) * 1000),
                f"10.0.{k % 256}.{rng.randint(0, 255)}",
                {f"s{rng.randint(0, 5)}" for _ in range(rng.randint(0, 3))} or None,
                {f"k{j}": j for j in range(rng.randint(0, 3))} or None,
                [rng.randint(0, 9) for _ in range(rng.randint(0, 3))] or None,
                (k, f"x{k}"),
            )
        )
    assert all(ok for ok, _ in execute_concurrent_with_args(session, insert, rows, concurrency=32))


def _rows(session: Any, ks: str, t: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (r.id, r.ck): {k: plain(v) for k, v in r._asdict().items()} for r in session.execute(f"SELECT * FROM {ks}.{t}")
    }


def _dsbulk(*args: str) -> None:
    from tools.dsbulk import command

    res = subprocess.run(command(*args), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def test_dsbulk_and_cassandra_bulk_read_each_others_csv(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    for t in ("src", "from_dsbulk", "by_dsbulk"):
        session.execute(TABLE.format(ks=keyspace, t=t))
    _fill(session, keyspace, 1500)
    expected = _rows(session, keyspace, "src")
    host, port = cassandra.contact_points[0], str(cassandra.port)
    common = ["-h", host, "-port", port, "-k", keyspace, "-logDir", str(tmp_path / "dsbulk-logs")]
    # DSBulk unload → cassandra-bulk load.
    _dsbulk("unload", *common, "-t", "src", "-url", str(tmp_path / "unloaded"))
    cluster, sess = connection_config(cassandra).connect()
    try:
        result = load_table(
            cluster,
            sess,
            resolve_table(cluster, keyspace, "from_dsbulk"),
            LoadOptions(source=str(tmp_path / "unloaded"), format="csv", log_dir=str(tmp_path / "logs")),
        )
        assert (result.rows_written, result.errors) == (1500, 0)
        assert _rows(session, keyspace, "from_dsbulk") == expected
        # cassandra-bulk export → DSBulk load.
        export_table(
            cluster,
            sess,
            resolve_table(cluster, keyspace, "src"),
            ExportOptions(destination=str(tmp_path / "exported"), splits=4, sink=SinkOptions(format="csv")),
        )
    finally:
        cluster.shutdown()
    _dsbulk("load", *common, "-t", "by_dsbulk", "-url", str(tmp_path / "exported"), "-header", "true")
    assert _rows(session, keyspace, "by_dsbulk") == expected
