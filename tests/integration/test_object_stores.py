"""gs:// and abfs:// against real emulators (fake-gcs-server, Azurite; see tests/object_store_servers.py)
with the real Cassandra node: the CLI as a user runs it, files and Iceberg, resume, load back, faults,
and credentials kept out of everything the tool prints or writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from cassandra.concurrent import execute_concurrent_with_args

from cassandra_bulk_core.io import Storage, StorageError
from tests.alltypes import EDGE_ROWS, create_and_fill, plain, random_rows
from tests.conftest import connection_config
from tests.object_store_servers import ObjectStore, azure_server, gcs_server  # noqa: F401 - fixtures

KINDS = ["gcs", "azure"]
SPLITS = 8


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ObjectStore:
    """The emulator of the parametrized kind, with its environment applied to this process too."""
    server: ObjectStore = request.getfixturevalue(f"{request.param}_server")
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    return server


def _fs(store: ObjectStore) -> Any:
    """An fsspec filesystem on the emulator, independent of the code under test, for inspection."""
    import fsspec

    return fsspec.filesystem("gcs" if store.kind == "gcs" else "abfs", skip_instance_cache=True)


def _objects(store: ObjectStore, uri: str) -> dict[str, bytes]:
    """Every object under ``uri`` (hidden temp objects included) with its content."""
    fs = _fs(store)
    root = uri.split("://", 1)[1]
    return {path: fs.cat_file(path) for path in fs.find(root)}


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def _cli(cassandra: Any, capsys: Any, *args: str, check: bool = True) -> CliRun:
    """``cassandra-bulk <args>`` through the console script's own entry point, in this process (the
    ``store`` fixture has put the emulator's environment in place, as a user's shell would)."""
    from cassandra_bulk_core.cli import main

    capsys.readouterr()
    argv = [*args, "-h", cassandra.contact_points[0], "--port", str(cassandra.port), "--no-progress"]
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    out = CliRun(code, captured.out, captured.err)
    if check and code != 0:
        raise AssertionError(f"{' '.join(args)} failed ({code}):\n{out.stdout}\n{out.stderr}")
    return out


def _diff(got: dict[Any, Any], want: dict[Any, Any]) -> list[Any]:
    """The first differences, (key, column, got, want), for a readable failure."""
    out: list[Any] = [("missing", k) for k in want.keys() - got.keys()][:3]
    for key in sorted(want.keys() & got.keys()):
        out += [(key, c, got[key].get(c), v) for c, v in want[key].items() if got[key].get(c) != v]
    return out[:5]


def _rows(session: Any, ks: str, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {
        (r.id, r.ck): {k: plain(v) for k, v in r._asdict().items()}
        for r in session.execute(f"SELECT * FROM {ks}.{table}")
    }


def _copy_table(session: Any, ks: str, name: str) -> None:
    """An empty table with ``all_types``' exact schema."""
    cql = session.cluster.metadata.keyspaces[ks].tables["all_types"].as_cql_query()
    session.execute(cql.replace(f"{ks}.all_types", f"{ks}.{name}", 1))


def _assert_no_secret(store: ObjectStore, *texts: str, objects: dict[str, bytes] | None = None) -> None:
    for secret in store.secrets:
        for text in texts:
            assert secret not in text
        for path, data in (objects or {}).items():
            assert secret.encode() not in data, path


@pytest.fixture(scope="module")
def reader(cassandra: Any) -> Any:
    """A session of its own: no UDT class registered on it, so UDT values come back as namedtuples."""
    cluster, sess = connection_config(cassandra).connect()
    yield sess
    cluster.shutdown()


@pytest.fixture
def filled(keyspace: str, session: Any, reader: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    create_and_fill(session, keyspace, EDGE_ROWS + random_rows(200, seed=11))
    return _rows(reader, keyspace, "all_types")


def test_files_export_resume_and_load_back(
    cassandra: Any,
    keyspace: str,
    session: Any,
    store: ObjectStore,
    reader: Any,
    filled: dict[Any, Any],
    tmp_path: Path,
    capsys: Any,
) -> None:
    table = ["-t", f"{keyspace}.all_types", "--splits", str(SPLITS)]
    outputs = []
    for fmt in ("parquet", "csv"):
        uri = store.uri()
        # A partial run (3 of 8 ranges), then the whole export with --resume: only the rest is scanned.
        part = _cli(
            cassandra, capsys, "export", *table, "--format", fmt, "--url", uri, "--ranges", "r0-of-8,r3-of-8,r7-of-8"
        )
        rest = _cli(cassandra, capsys, "export", *table, "--format", fmt, "--url", uri, "--resume")
        summary = json.loads(rest.stdout.strip().splitlines()[-1])
        assert summary["ranges_skipped"] == 3, summary
        objects = _objects(store, uri)
        names = [p.rsplit("/", 1)[1] for p in objects]
        assert not [n for n in names if ".tmp-" in n], names  # no temp object left behind
        assert sum(n.endswith(f".{fmt}") for n in names) >= SPLITS
        copy = f"back_{fmt}"
        _copy_table(session, keyspace, copy)
        load = _cli(
            cassandra, capsys, "load", "-t", f"{keyspace}.{copy}", "--url", uri, "--log-dir", str(tmp_path / fmt)
        )
        assert not _diff(_rows(reader, keyspace, copy), filled)
        outputs += [part.stdout, part.stderr, rest.stdout, rest.stderr, load.stdout, load.stderr]
        _assert_no_secret(store, *outputs, objects=objects)


def test_iceberg_warehouse_on_the_store_and_load_back(
    cassandra: Any,
    keyspace: str,
    session: Any,
    store: ObjectStore,
    reader: Any,
    filled: dict[Any, Any],
    tmp_path: Path,
    capsys: Any,
) -> None:
    warehouse = store.uri()
    props = {
        "type": "sql",
        "uri": f"sqlite:///{tmp_path / 'catalog.db'}",
        "warehouse": warehouse,
        **store.iceberg_props,
    }
    catalog = [arg for k, v in props.items() for arg in ("--catalog-prop", f"{k}={v}")]
    table = ["-t", f"{keyspace}.all_types", "--splits", str(SPLITS)]
    part = _cli(cassandra, capsys, "export", *table, "--to", "iceberg", *catalog, "--ranges", "r1-of-8,r2-of-8")
    rest = _cli(cassandra, capsys, "export", *table, "--to", "iceberg", *catalog, "--resume")
    summary = json.loads(rest.stdout.strip().splitlines()[-1])
    assert summary.get("ranges_skipped") == 2, summary

    from pyiceberg.catalog import load_catalog

    ice = load_catalog("default", **props).load_table(f"{keyspace}.all_types")
    assert ice.location().startswith(f"{store.scheme}://")
    assert ice.scan().to_arrow().num_rows == len(filled)

    _copy_table(session, keyspace, "back_ice")
    load = _cli(
        cassandra,
        capsys,
        "load",
        "-t",
        f"{keyspace}.back_ice",
        "--format",
        "iceberg",
        "--iceberg-table",
        f"{keyspace}.all_types",
        *catalog,
        "--log-dir",
        str(tmp_path / "logs"),
    )
    assert not _diff(_rows(reader, keyspace, "back_ice"), filled)
    objects = _objects(store, warehouse)
    assert any(p.endswith(".parquet") for p in objects) and any(p.endswith(".metadata.json") for p in objects)
    assert not [p for p in objects if ".tmp-" in p]
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".db")
    _assert_no_secret(
        store, part.stdout, part.stderr, rest.stdout, rest.stderr, load.stdout, load.stderr, logs, objects=objects
    )


def test_failed_writes_leave_no_object_and_no_temp(store: ObjectStore) -> None:
    uri = store.uri()
    storage = Storage(uri)
    storage.write_bytes("keep.bin", b"old version")
    big = os.urandom(12 * 1024 * 1024)  # over gcsfs' 5 MiB block: a resumable upload, several Azure blocks
    for name in ("keep.bin", "new.bin"):
        with pytest.raises(RuntimeError, match="boom"), storage.open_atomic(name) as f:
            f.write(big)
            raise RuntimeError("boom")
    assert storage.read_bytes("keep.bin") == b"old version"
    assert not storage.exists("new.bin")
    assert sorted(p.rsplit("/", 1)[1] for p in _objects(store, uri)) == ["keep.bin"]
    cm = storage.open_atomic("whole.bin", compression="zstd")
    with cm as f:
        f.write(big)
    assert cm.bytes_written == storage.size("whole.bin")
    with pa.CompressedInputStream(storage.open_input("whole.bin"), "zstd") as f:
        assert f.read() == big
    assert sorted(p.rsplit("/", 1)[1] for p in _objects(store, uri)) == ["keep.bin", "whole.bin"]
    storage.delete_prefix("")
    assert _objects(store, uri) == {}


def test_missing_bucket_is_one_line_without_credentials(
    cassandra: Any, keyspace: str, session: Any, store: ObjectStore, capsys: Any
) -> None:
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    missing = f"{store.scheme}://no-such-bucket-{keyspace.replace('_', '-')}/x"
    out = _cli(cassandra, capsys, "export", "-t", f"{keyspace}.kv", "--url", missing, check=False)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cassandra-bulk: error:"), out.stderr
    assert missing.split("/")[2] in lines[0]  # names the bucket/container
    assert "Traceback" not in out.stderr
    _assert_no_secret(store, out.stdout, out.stderr)
    with pytest.raises(StorageError):
        Storage(missing).check_writable()


def test_sigkill_mid_export_then_resume(cassandra: Any, keyspace: str, session: Any, store: ObjectStore) -> None:
    """A killed export leaves no partial object at a final name, and ``--resume`` completes it."""
    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v) VALUES (?, ?)")
    execute_concurrent_with_args(session, insert, [(i, f"v{i}") for i in range(3000)], concurrency=64)
    uri = store.uri()
    cmd = [sys.executable, "-m", "cassandra_bulk_core", "export", "-h", cassandra.contact_points[0]]
    cmd += ["--port", str(cassandra.port), "-t", f"{keyspace}.kv", "--splits", "16", "--format", "csv"]
    cmd += ["--page-size", "20", "--range-workers", "1", "--streams", "1", "--no-progress", "--url", uri]
    env = {**os.environ, **store.env}
    storage = Storage(uri)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(storage.list("_ranges")) < 2 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(storage.list("_ranges"))
    assert 2 <= done_before < 16, "the kill should land mid-export"
    for path, data in _objects(store, uri).items():  # every visible part file is complete CSV
        if path.endswith(".csv"):
            assert data.endswith(b"\n"), path
    out = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["ranges_skipped"] >= done_before
    rows = set()
    for path in storage.list():
        if path.endswith(".csv"):
            lines = (storage.read_bytes(path) or b"").decode().splitlines()
            rows |= {tuple(line.split(",")) for line in lines[1:]}
    assert rows == {(str(i), f"v{i}") for i in range(3000)}
