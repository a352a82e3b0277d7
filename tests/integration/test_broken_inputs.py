"""Issue "Faithful on every table", done means: no Python traceback reaches a user from any input
file or option. A corpus of broken inputs is fed to the CLI; each run must end with one clear
error line (or one summary line), a documented exit code (0 all written, 1 finished with rejects,
2 bad options, 4 the load stopped, 5 too many rejects), and the good records must land."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

GOOD = "k,v\n1,one\n2,two\n"


def _truncated_gzip(p: Path) -> Path:
    data = gzip.compress(b"k,v\n" + b"".join(b"%d,x\n" % i for i in range(3, 5000)))
    out = p / "in.csv.gz"
    out.write_bytes(data[: len(data) // 2])
    return out


def _truncated_parquet(p: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    whole = p / "whole.parquet"
    pq.write_table(pa.table({"k": pa.array([1, 2], pa.int32()), "v": ["one", "two"]}), whole)
    out = p / "in.parquet"
    out.write_bytes(whole.read_bytes()[:-20])
    return out


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(p: Path) -> Path:
        out = p / name
        out.write_bytes(data)
        return out

    return make


# (id, the input, extra CLI args, exit codes allowed, keys that must land)
CASES: list[tuple[str, Callable[[Path], Path], list[str], set[int], set[int]]] = [
    ("bom", _write("in.csv", b"\xef\xbb\xbf" + GOOD.encode()), [], {0}, {1, 2}),
    ("latin1-byte", _write("in.csv", b"k,v\n1,one\n2,caf\xe9\n3,three\n"), [], {1}, {1, 3}),
    ("wrong-field-count", _write("in.csv", b"k,v\n1,one\n2,two,extra\n3\n4,four\n"), [], {1}, {1, 4}),
    ("bad-int", _write("in.csv", b"k,v\nx,one\n2,two\n"), [], {1}, {2}),
    ("null-key", _write("in.csv", b"k,v\n,one\n2,two\n"), [], {1}, {2}),
    ("garbage-no-header", _write("in.csv", bytes(range(256)) * 4 + b"\n1,one\n"), ["--no-header"], {1, 4}, set()),
    ("empty-file", _write("in.csv", b""), [], {0, 1, 2, 4}, set()),
    ("header-only", _write("in.csv", b"k,v\n"), [], {0}, set()),
    ("unknown-header-field", _write("in.csv", b"k,v,w\n1,one,x\n"), [], {0, 1, 2}, set()),
    ("duplicate-header", _write("in.csv", b"k,v,v\n1,one,two\n"), [], {2, 4}, set()),
    ("missing-column", _write("in.csv", b"k\n1\n"), [], {2}, set()),
    (
        "bad-json",
        _write("in.jsonl", b'{"k": 1, "v": "one"}\n{"k": 2, "v": \n{"k": 3, "v": "three"}\n'),
        [],
        {1},
        {1, 3},
    ),
    ("json-not-object", _write("in.jsonl", b'{"k": 1, "v": "one"}\n[1, 2]\n"text"\n'), [], {1}, {1}),
    ("truncated-gzip", _truncated_gzip, [], {4}, set()),
    ("truncated-parquet", _truncated_parquet, [], {4}, set()),
    ("not-parquet", _write("in.parquet", b"PAR1 this is not parquet"), [], {4}, set()),
    ("max-errors", _write("in.csv", b"k,v\n1,one\n" + b"x,bad\n" * 5 + b"9,nine\n"), ["--max-errors", "2"], {5}, {1}),
    ("bad-option", _write("in.csv", GOOD.encode()), ["--max-errors", "lots"], {2}, set()),
    ("bad-mapping", _write("in.csv", GOOD.encode()), ["-m", "k=k,v=nope"], {2}, set()),
    ("missing-file", lambda p: p / "does-not-exist.csv", [], {2, 4}, set()),
]


@pytest.mark.parametrize(("name", "make", "args", "codes", "landed"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_input_gives_one_line_and_a_documented_exit(
    cassandra: Any,
    keyspace: str,
    session: Any,
    tmp_path: Path,
    name: str,
    make: Callable[[Path], Path],
    args: list[str],
    codes: set[int],
    landed: set[int],
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    source = make(tmp_path)
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "load", "-h", cassandra.contact_points[0]]
    cmd += ["--port", str(cassandra.port), "-t", f"{keyspace}.kv", "--url", str(source)]
    cmd += ["--log-dir", str(tmp_path / "logs"), "--no-progress", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output[-3000:]
    assert done.returncode in codes, f"{name}: exit {done.returncode}\n{output[-2000:]}"
    if done.returncode in (0, 1):
        json.loads(done.stdout.strip().splitlines()[-1])  # the summary line
    else:
        errors = [line for line in done.stderr.splitlines() if line.startswith("cassandra-bulk:")]
        assert errors, f"{name}: no error line\n{done.stderr[-2000:]}"
        assert all(len(line) < 2000 for line in errors)
    rows = {r.k for r in session.execute(f"SELECT k FROM {keyspace}.kv")}
    assert landed <= rows, f"{name}: good records {sorted(landed - rows)} did not land"
