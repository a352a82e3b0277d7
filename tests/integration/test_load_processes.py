"""``load --processes N`` on the real node: the same rows at the same write times as one process
(CSV, Parquet, JSON Lines, Iceberg; duplicate keys in blocks of different workers; counters; a
token range), a worker that dies then ``--resume`` (with the same or another number of processes)
exact, ``--max-errors`` on the total over the workers, summed summaries, cancel and Ctrl-C."""

from __future__ import annotations

import decimal
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cassandra_bulk_core import resolve_table
from cassandra_bulk_core.events import Listener
from cassandra_bulk_core.export import ExportOptions
from cassandra_bulk_core.iceberg import IcebergOptions, export_to_iceberg
from cassandra_bulk_core.load import LoadCancelled, LoadOptions, load_table
from cassandra_bulk_core.load.processes import EXIT_AFTER_ROWS_ENV
from cassandra_bulk_core.sources import IcebergSource
from tests.conftest import connection_config

TIMEOUT = 300

WIDE = """CREATE TABLE {ks}.{t} (id int, ck int, name text, score double, flag boolean, at timestamp,
    tags set<text>, amount decimal, PRIMARY KEY ((id), ck))"""
COLUMNS = ["id", "ck", "name", "score", "flag", "at", "tags", "amount"]

BIG = 100_000
"""Rows of the large file: over 4 MB of CSV (two pyarrow blocks), 7 Parquet batches, 20 JSON chunks."""
DUPS = 5_000
"""Its rows 95,000-99,999 repeat the keys of rows 0-4,999 (another block, another worker)."""


def _cli(cassandra: Any, *args: str, env: dict[str, str] | None = None, **kw: Any) -> Any:
    base = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    base += ["--port", str(cassandra.port), "--no-progress"]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=TIMEOUT, env=env, **kw)


def _ok(res: Any, code: int = 0) -> dict[str, Any]:
    assert res.returncode == code, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def _error_line(res: Any) -> str:
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("cassandra-bulk: error:")]
    assert len(lines) == 1, res.stderr
    return lines[0]


# -- the same load in one process and in several ------------------------------------------------------


def _records(seed: int = 5) -> list[list[dict[str, Any]]]:
    """Three resources in load order: 500 rows, the large one, 500 rows re-using keys of the large one."""
    rng = random.Random(seed)

    def row(i: int, key: int) -> dict[str, Any]:
        return {
            "id": key // 4,
            "ck": key % 4,
            "name": f"name {i} {'x' * rng.randint(0, 20)}",
            "score": round(rng.uniform(-1e6, 1e6), 3),
            "flag": rng.random() < 0.5,
            "at": 1_700_000_000_000 + rng.randint(0, 10**9),
            "tags": sorted({f"t{rng.randint(0, 9)}" for _ in range(rng.randint(1, 3))}),
            "amount": f"{rng.randint(-(10**6), 10**6)}.{rng.randint(0, 99):02d}",
        }

    small = [row(i, 10**6 + i) for i in range(500)]
    big = [row(i, i if i < BIG - DUPS else i - (BIG - DUPS)) for i in range(BIG)]
    again = [row(i, rng.randrange(BIG - DUPS)) for i in range(500)]
    return [small, big, again]


def _write(root: Path, fmt: str, resources: list[list[dict[str, Any]]]) -> None:
    root.mkdir()
    for name, rows in zip(("a-small", "b-big", "c-again"), resources, strict=True):
        path = root / f"{name}.{fmt}"
        if fmt == "csv":
            lines = [",".join(COLUMNS)]
            for r in rows:
                tags = json.dumps(r["tags"]).replace('"', '\\"')  # the default CSV escape is a backslash
                lines.append(
                    f'{r["id"]},{r["ck"]},{r["name"]},{r["score"]!r},{r["flag"]},{r["at"]},"{tags}",{r["amount"]}'
                )
            path.write_text("\n".join(lines) + "\n")
        elif fmt == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            table = pa.table(
                {
                    "id": pa.array([r["id"] for r in rows], pa.int32()),
                    "ck": pa.array([r["ck"] for r in rows], pa.int32()),
                    "name": [r["name"] for r in rows],
                    "score": [r["score"] for r in rows],
                    "flag": [r["flag"] for r in rows],
                    "at": pa.array([r["at"] for r in rows], pa.timestamp("ms", tz="UTC")),
                    "tags": [r["tags"] for r in rows],
                    "amount": [r["amount"] for r in rows],
                }
            )
            pq.write_table(table, path)


def _expected(resources: list[list[dict[str, Any]]]) -> dict[tuple[int, int], tuple[str, int]]:
    """Key → (name, position in the load) of its last record: the one that must win."""
    out: dict[tuple[int, int], tuple[str, int]] = {}
    position = 0
    for rows in resources:
        for r in rows:
            out[(r["id"], r["ck"])] = (r["name"], position)
            position += 1
    return out


def _table(session: Any, ks: str, t: str, timestamp: int) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Every row, its write times relative to the load's operation timestamp (its records' positions)."""
    out = {}
    cols = ", ".join(COLUMNS)
    for r in session.execute(f"SELECT {cols}, writetime(name) AS wn, writetime(score) AS ws FROM {ks}.{t}"):
        d = r._asdict()
        tags = tuple(sorted(d["tags"] or ()))
        amount = d["amount"].normalize() if isinstance(d["amount"], decimal.Decimal) else d["amount"]
        values = tuple(d[c] for c in COLUMNS if c not in ("tags", "amount"))
        out[(d["id"], d["ck"])] = (*values, tags, amount, d["wn"] - timestamp, d["ws"] - timestamp)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_two_processes_write_what_one_writes_at_the_same_times(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path, fmt: str
) -> None:
    resources = _records()
    _write(tmp_path / "in", fmt, resources)
    loads = {}
    progress = tmp_path / "progress.json"
    for processes in (1, 2):
        t = f"p{processes}"
        session.execute(WIDE.format(ks=keyspace, t=t))
        args = ["-t", f"{keyspace}.{t}", "--url", str(tmp_path / "in"), "--format", fmt, "--log-dir", str(tmp_path)]
        args += ["--processes", str(processes), "--progress-file", str(progress)]
        summary = _ok(_cli(cassandra, *args))
        loads[processes] = (summary, _table(session, keyspace, t, summary["timestamp"]))
    (one, rows_one), (two, rows_two) = loads[1], loads[2]
    total = sum(len(rows) for rows in resources)
    for summary in (one, two):  # summed over the workers: as one process counts
        assert (summary["records"], summary["rows_written"], summary["errors"], summary["resources"]) == (
            total,
            total,
            0,
            3,
        )
    state = json.loads(progress.read_text())  # the two workers' progress, summed in the parent
    assert state["rows"] == total and state["ranges_total"] == 3 and state["ranges_done"] == 3
    assert rows_two == rows_one
    expected = _expected(resources)
    assert len(rows_two) == len(expected)
    # The last record of a key wins, at its own position, though another worker sent the earlier one.
    assert {k: (v[2], v[-2], v[-1]) for k, v in rows_two.items()} == {k: (n, p, p) for k, (n, p) in expected.items()}
    workers = json.loads((Path(two["log_dir"]) / "summary.json").read_text())["workers"]
    assert [w["status"] for w in workers] == ["ok", "ok"]


def test_iceberg_source_in_two_processes_equals_one(
    keyspace: str, session: Any, cassandra: Any, tmp_path: Path
) -> None:
    config = connection_config(cassandra)
    cluster, sess = config.connect()
    try:
        session.execute(WIDE.format(ks=keyspace, t="src"))
        insert = session.prepare(f"INSERT INTO {keyspace}.src ({', '.join(COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        rng = random.Random(3)
        for i in range(3000):
            at = 1_700_000_000_000 + i
            session.execute(insert, (i // 3, i % 3, f"n{i}", rng.random(), i % 2 == 0, at, {"a"}, decimal.Decimal(i)))
        warehouse = str(tmp_path / "wh")
        export_to_iceberg(
            cluster,
            sess,
            resolve_table(cluster, keyspace, "src"),
            ExportOptions(destination="", splits=4),
            IcebergOptions(warehouse=warehouse),
        )
        tables = {}
        for processes in (1, 2):
            t = f"p{processes}"
            session.execute(WIDE.format(ks=keyspace, t=t))
            src = IcebergSource(table=f"{keyspace}.src", warehouse=warehouse)
            options = LoadOptions(iceberg=src, log_dir=str(tmp_path / "logs"), write_timestamp=None)
            result = load_table(
                cluster, sess, resolve_table(cluster, keyspace, t), options, processes=processes, connection=config
            )
            assert (result.rows_written, result.errors) == (3000, 0)
            tables[processes] = _table(session, keyspace, t, result.timestamp)
        assert tables[2] == tables[1] and len(tables[2]) == 3000
    finally:
        cluster.shutdown()


def test_counters_and_a_token_range_in_two_processes(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    # Counters: 20 increments of every key, spread over 4 JSON chunks of two workers.
    session.execute(f"CREATE TABLE {keyspace}.c (id int PRIMARY KEY, hits counter)")
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"id": i % 1000, "hits": 1}) + "\n" for i in range(20_000)))
    summary = _ok(_cli(cassandra, "-t", f"{keyspace}.c", "--url", str(tmp_path / "c.jsonl"), "--processes", "2"))
    assert summary["rows_written"] == 20_000
    assert {r.hits for r in session.execute(f"SELECT hits FROM {keyspace}.c")} == {20}
    assert session.execute(f"SELECT count(*) FROM {keyspace}.c").one()[0] == 1000
    # --range: only the range's rows, at the same write times as one process writes them.
    src = tmp_path / "kv"
    src.mkdir()
    for f in range(4):
        (src / f"part-{f}.csv").write_text("k,v\n" + "".join(f"{f * 3000 + i},v{i}\n" for i in range(3000)))
    found = {}
    for processes in (1, 2):
        t = f"kv{processes}"
        session.execute(f"CREATE TABLE {keyspace}.{t} (k int PRIMARY KEY, v text)")
        args = ["-t", f"{keyspace}.{t}", "--url", str(src), "--range", "r1-of-4", "--processes", str(processes)]
        summary = _ok(_cli(cassandra, *args, "--log-dir", str(tmp_path / "logs")))
        assert summary["rows_written"] + summary["skipped_other_range"] == 12_000
        rows = session.execute(f"SELECT k, v, writetime(v) AS w FROM {keyspace}.{t}")
        found[processes] = (summary["rows_written"], {r.k: (r.v, r.w - summary["timestamp"]) for r in rows})
    assert found[2] == found[1] and 0 < found[2][0] < 12_000
    assert all(w == k for k, (_, w) in found[2][1].items())  # record k is at position k


def test_what_several_processes_cannot_load_is_refused_in_one_line(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    stdin = _cli(cassandra, "-t", f"{keyspace}.kv", "--format", "csv", "--processes", "2", input="k,v\n1,a\n")
    assert stdin.returncode == 2 and "standard input" in _error_line(stdin)
    session.execute(f"CREATE TABLE {keyspace}.l (k int PRIMARY KEY, xs list<int>)")
    (tmp_path / "l.jsonl").write_text('{"k": 1, "xs": [1, 2]}\n')
    lists = _cli(cassandra, "-t", f"{keyspace}.l", "--url", str(tmp_path / "l.jsonl"), "--processes", "2")
    assert lists.returncode == 2 and "non-frozen list column(s) xs" in _error_line(lists)
    assert session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0] == 0


# -- a worker dies: the run fails loudly, --resume finishes it exactly -------------------------------------


def _kv_files(root: Path, files: int = 8, per_file: int = 5000) -> int:
    root.mkdir()
    for f in range(files):
        lines = ["k,v"] + [f"{f * per_file + i},value-{f}-{i}" for i in range(per_file)]
        (root / f"part-{f:02d}.csv").write_text("\n".join(lines) + "\n")
    return files * per_file


@pytest.mark.parametrize("resume_with", [2, 1, 3])
def test_a_worker_killed_mid_load_fails_the_run_and_resume_finishes_it_exactly(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path, resume_with: int
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    n = _kv_files(tmp_path / "in")
    logs = tmp_path / "logs"
    args = ["-t", f"{keyspace}.kv", "--url", str(tmp_path / "in"), "--log-dir", str(logs)]
    args += ["--checkpoint-interval", "0.2s,500", "--max-rows-per-second", "8000"]
    env = {**os.environ, EXIT_AFTER_ROWS_ENV: "worker-1-of-2:3000"}
    died = _cli(cassandra, *args, "--processes", "2", env=env)
    assert died.returncode == 4, died.stderr
    line = _error_line(died)
    assert "worker process worker-1-of-2 (exit code 1) died" in line and "--resume" in line
    (op_dir,) = logs.glob("load_*")
    checkpoint = json.loads((op_dir / "checkpoint.json").read_text())
    written = session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0]
    assert 0 < written < n
    done = sum(b - a for r in checkpoint["resources"].values() for a, b in r["done"])
    assert 0 < done <= written  # the merged checkpoint holds both workers' acknowledged records
    resumed = _ok(_cli(cassandra, *args, "--resume", "--processes", str(resume_with)))
    assert resumed["timestamp"] == checkpoint["timestamp"] and resumed["errors"] == 0
    assert resumed["skipped_resumed"] == done and resumed["records"] + done == n
    rows = list(session.execute(f"SELECT k, v, writetime(v) FROM {keyspace}.kv"))
    assert len(rows) == n and {r.k for r in rows} == set(range(n))
    # Record k is at position k: every row, written before the kill or after, by either worker or
    # by the resume, carries the time one uninterrupted process would have given it.
    assert all(r.writetime_v == checkpoint["timestamp"] + r.k for r in rows)


def test_a_worker_that_never_starts_fails_the_run(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    from cassandra_bulk_core.parallel import EXIT_ON_RANGE_ENV

    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    n = _kv_files(tmp_path / "in", files=4, per_file=1000)
    args = ["-t", f"{keyspace}.kv", "--url", str(tmp_path / "in"), "--log-dir", str(tmp_path / "logs")]
    died = _cli(cassandra, *args, "--processes", "2", env={**os.environ, EXIT_ON_RANGE_ENV: "worker-0-of-2"})
    assert died.returncode == 4 and "worker-0-of-2" in _error_line(died)
    resumed = _ok(_cli(cassandra, *args, "--processes", "2", "--resume"))
    assert resumed["records"] + resumed["skipped_resumed"] == n
    assert session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0] == n


# -- max-errors and the summary: totals over the workers --------------------------------------------------


def _bad_files(root: Path) -> tuple[int, int]:
    """4 files of 1,000 records, 3 bad in each (worker 0 reads files 0 and 2, worker 1 files 1 and 3)."""
    root.mkdir()
    bad = 0
    for f in range(4):
        lines = ["k,v"]
        for i in range(1000):
            k = f * 1000 + i
            lines.append(f"{k},{'x' if i in (10, 500, 990) else k}")
            bad += i in (10, 500, 990)
        (root / f"part-{f}.csv").write_text("\n".join(lines) + "\n")
    return 4000, bad


def test_max_errors_counts_the_total_over_the_workers(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v int)")
    n, bad = _bad_files(tmp_path / "in")
    base = ["-t", f"{keyspace}.kv", "--url", str(tmp_path / "in"), "--processes", "2"]
    # 6 rejects per worker: within 10 for each, past it in total.
    aborted = _cli(cassandra, *base, "--max-errors", "10", "--log-dir", str(tmp_path / "a"))
    assert aborted.returncode == 5, aborted.stderr
    line = _error_line(aborted)
    assert "exceeds max_errors=10 (summed over 2 worker processes)" in line and "--resume" in line
    # The stopped run resumes: every good record lands.
    resumed = _cli(cassandra, *base, "--max-errors", "-1", "--log-dir", str(tmp_path / "a"), "--resume")
    assert resumed.returncode in (0, 1), resumed.stderr
    assert session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0] == n - bad
    # Within the limit: the summary and the reject files are the sums over the workers.
    session.execute(f"TRUNCATE {keyspace}.kv")
    sums = {}
    for processes in ("1", "2"):
        log_dir = tmp_path / f"logs{processes}"
        args = ["-t", f"{keyspace}.kv", "--url", str(tmp_path / "in"), "--log-dir", str(log_dir)]
        summary = _ok(_cli(cassandra, *args, "--processes", processes, "--max-errors", "20"), code=1)
        sums[processes] = {k: summary[k] for k in ("records", "rows_written", "rejected", "errors", "resources")}
        rejects = (Path(summary["log_dir"]) / "rejects.csv").read_text().splitlines()
        assert rejects[0] == "k,v" and len(rejects) == bad + 1
        errors = (Path(summary["log_dir"]) / "errors.log").read_text().splitlines()
        assert len(errors) == bad
    assert (
        sums["2"]
        == sums["1"]
        == {"records": n, "rows_written": n - bad, "rejected": bad, "errors": bad, "resources": 4}
    )
    # One worker past the limit on its own stops the others too.
    one = _cli(cassandra, *base, "--max-errors", "5", "--log-dir", str(tmp_path / "b"))
    assert one.returncode == 5 and "max_errors=5" in _error_line(one)


# -- cancel and Ctrl-C stop every worker ------------------------------------------------------------------


def _new_children(before: set[int]) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]


def test_cancel_stops_every_worker_and_resume_finishes(
    cassandra: Any, keyspace: str, session: Any, tmp_path: Path
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    n = _kv_files(tmp_path / "in")
    config = connection_config(cassandra)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster, sess = config.connect()
    cancel = threading.Event()

    class CancelOnProgress(Listener):
        def on_progress(self, rows: int, bytes_: int) -> None:
            cancel.set()

    try:
        info = resolve_table(cluster, keyspace, "kv")
        options = LoadOptions(
            source=str(tmp_path / "in"), log_dir=str(tmp_path / "logs"), max_rows_per_second=4000, cancel=cancel
        )
        started = time.monotonic()
        with pytest.raises(LoadCancelled):
            load_table(cluster, sess, info, options, CancelOnProgress(), processes=2, connection=config)
        assert time.monotonic() - started < 60
        assert not _new_children(before)
        assert session.execute(f"SELECT count(*) FROM {keyspace}.kv").one()[0] < n
        resumed = load_table(
            cluster,
            sess,
            info,
            LoadOptions(source=str(tmp_path / "in"), log_dir=str(tmp_path / "logs"), resume=True),
            processes=2,
            connection=config,
        )
        assert resumed.errors == 0 and resumed.skipped_resumed > 0
    finally:
        cluster.shutdown()
    rows = list(session.execute(f"SELECT k, writetime(v) FROM {keyspace}.kv"))
    assert len(rows) == n and all(r.writetime_v == resumed.timestamp + r.k for r in rows)


def test_ctrl_c_stops_every_worker(cassandra: Any, keyspace: str, session: Any, tmp_path: Path) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    _kv_files(tmp_path / "in")
    progress = tmp_path / "progress.json"
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    cmd += ["--port", str(cassandra.port), "-t", f"{keyspace}.kv", "--url", str(tmp_path / "in"), "--no-progress"]
    cmd += ["--processes", "2", "--max-rows-per-second", "2000", "--progress-file", str(progress)]
    cmd += ["--log-dir", str(tmp_path / "logs")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        children: list[psutil.Process] = []
        while time.monotonic() < deadline:
            children = psutil.Process(proc.pid).children(recursive=True)
            rows = json.loads(progress.read_text())["rows"] if progress.exists() else 0
            if len(children) >= 2 and rows > 0:
                break
            time.sleep(0.05)
        assert rows > 0, "the workers never started loading"
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphan worker processes: {[p.pid for p in alive]}"
    (op_dir,) = (tmp_path / "logs").glob("load_*")
    assert json.loads((op_dir / "checkpoint.json").read_text())["resources"]
