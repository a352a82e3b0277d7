"""Object-store write speed: cassandra-bulk's S3 writer beside obstore, on moto's S3 server.

Issue "Every storage and catalog" asks whether ``obstore`` (one Rust-backed client for S3, GCS and
Azure, multipart abort on error) should replace the engine's boto3 multipart writer
(``cassandra_bulk_core/io/s3.py`` + ``s3_upload.py``). This measures both on the same bytes: the
benchmark's ``wide`` rows rendered as CSV (what a CSV export writes), ``--files`` objects of
``--mb`` MiB each, written ``--threads`` at a time (as an export's range workers do), against one
moto server in its own process on 127.0.0.71. It also checks what each does when the producer
fails mid-file: is the object (or a part of it) visible, and is an incomplete multipart upload left?

Run (obstore is not a dependency of the project; it is added for this run only)::

    uv run --frozen --with obstore python -m bench.store_write

Figures, not a test: moto's server is pure Python, so on this machine it bounds MB/s for both; the
client CPU seconds per GiB are the comparison that survives that.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.datasets import wide_rows

HOST = "127.0.0.71"
BUCKET = "bench-bucket"
KEY, SECRET, REGION = "testing", "testing", "us-east-1"
CHUNK = 1 << 20  # the size a sink hands to its stream at a time


def _payload(mib: int, seed: int = 42) -> bytes:
    """``mib`` MiB of the wide table as a CSV export renders it (header, then rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["p", "c", "id", "name", "big", "dbl", "flag", "at", "day", "n", "amount", "note"])
    rng = random.Random(seed)
    target = mib << 20
    while out.tell() < target:
        for row in wide_rows(rng, 2000):
            writer.writerow(row)
    return out.getvalue().encode()[:target]


def _chunks(data: bytes, fail_after: int | None = None) -> Iterator[bytes]:
    for offset in range(0, len(data), CHUNK):
        if fail_after is not None and offset >= fail_after:
            raise RuntimeError("producer failed mid-file")
        yield data[offset : offset + CHUNK]


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return proc, endpoint
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto's server did not start")


def _boto(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )


def _engine_writer(endpoint: str, prefix: str) -> Callable[[str, Iterator[bytes]], None]:
    """The engine's path: ``Storage.open_atomic`` (boto3 multipart, 16 MiB parts, 2 in flight)."""
    from cassandra_bulk_core.io import Storage, StorageOptions

    storage = Storage(
        f"s3://{BUCKET}/{prefix}",
        StorageOptions(s3_endpoint_url=endpoint, s3_region=REGION, s3_access_key_id=KEY, s3_secret_access_key=SECRET),
    )

    def write(name: str, chunks: Iterator[bytes]) -> None:
        with storage.open_atomic(name) as f:
            for chunk in chunks:
                f.write(chunk)

    return write


def _obstore_writer(endpoint: str, prefix: str) -> Callable[[str, Iterator[bytes]], None]:
    """obstore's streaming writer (``open_writer``: multipart once past its buffer)."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region=REGION,
        access_key_id=KEY,
        secret_access_key=SECRET,
        client_options={"allow_http": True},
    )

    def write(name: str, chunks: Iterator[bytes]) -> None:
        with obstore.open_writer(store, f"{prefix}/{name}", buffer_size=16 << 20) as f:
            for chunk in chunks:
                f.write(chunk)

    return write


WRITERS = {"cassandra-bulk (boto3 multipart)": _engine_writer, "obstore open_writer": _obstore_writer}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(write: Callable[[str, Iterator[bytes]], None], data: bytes, files: int, threads: int) -> tuple[float, float]:
    cpu0, t0 = _cpu(), time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: write(f"part-{i:03d}.csv", _chunks(data)), range(files)))
    return time.monotonic() - t0, _cpu() - cpu0


Writer = Callable[[str, Iterator[bytes]], None]


def _abort_check(client: Any, write: Writer, prefix: str, data: bytes) -> dict[str, Any]:
    """Fail the producer after 40 MiB (two parts uploaded): what is left at the key?"""
    try:
        write("failed.csv", _chunks(data, fail_after=40 << 20))
        raised = False
    except Exception:
        raised = True
    key = f"{prefix}/failed.csv"
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0)
    uploads = [u for u in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) if u["Key"] == key]
    return {"raised": raised, "object_visible": bool(listed), "incomplete_uploads_left": len(uploads)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64, help="MiB per object (default 64)")
    parser.add_argument("--files", type=int, default=8, help="objects per repetition (default 8)")
    parser.add_argument("--threads", type=int, default=4, help="objects written at once (default 4)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default="bench/results/latest-store-write.json")
    args = parser.parse_args(argv)

    data = _payload(args.mb)
    proc, endpoint = _start_moto()
    try:
        client = _boto(endpoint)
        client.create_bucket(Bucket=BUCKET)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in WRITERS}
        for rep in range(args.repeat):  # repetition-major: a noisy phase hits both
            for name, make in WRITERS.items():
                write = make(endpoint, f"{name.split()[0]}/{rep}")
                wall, cpu = _run(write, data, args.files, args.threads)
                gib = args.files * len(data) / (1 << 30)
                runs[name].append({"seconds": wall, "cpu_seconds": cpu, "mib_per_s": gib * 1024 / wall})
                print(f"rep {rep + 1} {name}: {gib * 1024 / wall:.1f} MiB/s, {cpu / gib:.2f} CPU s/GiB", flush=True)
        aborts = {
            name: _abort_check(client, make(endpoint, f"abort-{i}"), f"abort-{i}", data)
            for i, (name, make) in enumerate(WRITERS.items())
        }
    finally:
        proc.kill()
    summary = {}
    shape = f"{args.files} x {args.mb} MiB of wide CSV, {args.threads} at a time"
    print(f"\n{shape}, moto server; medians of {args.repeat}")
    print("| writer | MiB/s | client CPU s/GiB | failed producer: object visible | incomplete upload left |")
    print("|---|---:|---:|---|---:|")
    for name, rs in runs.items():
        mibs = sorted(r["mib_per_s"] for r in rs)[len(rs) // 2]
        cpu = sorted(r["cpu_seconds"] for r in rs)[len(rs) // 2] / (args.files * len(data) / (1 << 30))
        summary[name] = {"mib_per_s": mibs, "cpu_s_per_gib": cpu, "abort": aborts[name], "runs": rs}
        a = aborts[name]
        print(f"| {name} | {mibs:.1f} | {cpu:.2f} | {a['object_visible']} | {a['incomplete_uploads_left']} |")
    Path(args.json).write_text(json.dumps({"args": vars(args), "writers": summary}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
