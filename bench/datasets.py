"""The benchmark's data sets: schemas, deterministic rows from a seed, one fill that later runs reuse.

Rows come from ``random.Random(seed)`` only, so the same ``--rows`` and ``--seed`` always give the same
table, and a table filled by an earlier invocation is reused (a marker row in ``bench.bench_datasets``
records rows, seed and generator version; the row count is checked too). The fill uses the Python
driver with unlogged batches of rows that share a replica (one node: all of them), the fastest
reliable route that does not depend on any of the tools being measured.

No table in the benchmark keyspace may hold a ``vector`` column: DSBulk 1.10's driver cannot parse
one and then loses the whole schema. The all-types table is therefore every Cassandra 5 type *but*
vector.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType
from cassandra.util import Date, Duration, Time

KEYSPACE = "bench"
GENERATOR_VERSION = 1  # bump when a generator changes, so old tables are refilled
MARKERS = f"{KEYSPACE}.bench_datasets"
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor".split()  # noqa: SIM905

Row = Sequence[Any]


def _text(rng: random.Random, length: int) -> str:
    """Printable text without newlines, so every tool's CSV has one line per row (counted by lines)."""
    out: list[str] = []
    size = 0
    while size < length:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:length]


def narrow_rows(rng: random.Random, n: int) -> Iterator[Row]:
    """Key/value, one row per partition: ~100 B in CSV (a 19-digit-ish key and 80 characters)."""
    letters = string.ascii_letters + string.digits
    for i in range(n):
        yield (i * 7919 - 2**40, "".join(rng.choices(letters, k=80)))


def wide_rows(rng: random.Random, n: int) -> Iterator[Row]:
    """12 mixed-type columns, 100 rows per partition: ~650 B in CSV, mostly the ``note`` text."""
    for i in range(n):
        yield (
            i // 100,
            i % 100,
            uuid.UUID(int=rng.getrandbits(128)),
            f"name-{i}-{rng.randint(0, 10**6)}",
            rng.randint(-(2**62), 2**62),
            rng.uniform(-1e9, 1e9),
            rng.random() < 0.5,
            dt.datetime(2024, 1, 1) + dt.timedelta(milliseconds=rng.randint(0, 10**11)),
            Date(19000 + rng.randint(0, 2000)),
            rng.randint(-(2**31), 2**31 - 1),
            decimal.Decimal(rng.randint(-(10**9), 10**9)).scaleb(-2),
            _text(rng, 470),
        )


class Addr(NamedTuple):
    """The ``bench_addr`` UDT: the driver binds a UDT from a tuple in field order (not from a dict)."""

    street: str
    zip: int
    tags: list[str]


def alltypes_rows(rng: random.Random, n: int) -> Iterator[Row]:
    """Every CQL type but vector (collections, tuple, frozen and non-frozen UDT, duration), 10 rows per partition."""
    for i in range(n):
        addr = Addr(_text(rng, 12), rng.randint(0, 99999), [_text(rng, 5), _text(rng, 6)])
        yield (
            i // 10,
            f"c{i % 10}",
            f"static-{i // 10}",
            _text(rng, 10),
            f"t-{i}-é-{_text(rng, 20)}",
            rng.randint(-128, 127),
            rng.randint(-32768, 32767),
            rng.randint(-(2**31), 2**31 - 1),
            rng.randint(-(2**63), 2**63 - 1),
            rng.randint(-(10**30), 10**30),
            decimal.Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 9)),
            rng.uniform(-1e6, 1e6),
            rng.uniform(-1e12, 1e12),
            rng.random() < 0.5,
            rng.randbytes(rng.randint(0, 48)),
            uuid.UUID(int=rng.getrandbits(128)),
            _timeuuid(rng),
            str(ipaddress.IPv4Address(rng.getrandbits(32))),
            Date(rng.randint(-100_000, 100_000)),
            Time(rng.randint(0, 86_399_999_999_999)),
            dt.datetime(1900, 1, 1) + dt.timedelta(milliseconds=rng.randint(0, 6 * 10**12)),
            Duration(rng.randint(0, 24), rng.randint(0, 30), rng.randint(0, 10**12)),
            [rng.randint(-1000, 1000) for _ in range(rng.randint(0, 5))],
            {_text(rng, 6) for _ in range(rng.randint(0, 4))},
            {_text(rng, 5): rng.randint(0, 100) for _ in range(rng.randint(0, 4))},
            (rng.randint(0, 100), _text(rng, 8), Date(rng.randint(0, 30_000))),
            addr,
            addr,
            [{"home": addr}],
            [{rng.randint(0, 9): Date(rng.randint(0, 30_000))}],
        )


def _timeuuid(rng: random.Random) -> uuid.UUID:
    """A version-1 UUID from the generator alone (uuid.uuid1 reads the clock, which is not reproducible)."""
    ts = 0x01EE_0000_0000_0000 + rng.getrandbits(44)
    return uuid.UUID(
        fields=(
            ts & 0xFFFFFFFF,
            (ts >> 32) & 0xFFFF,
            0x1000 | ((ts >> 48) & 0x0FFF),
            0x80,
            rng.getrandbits(8),
            rng.getrandbits(48),
        )
    )


@dataclass(frozen=True)
class Dataset:
    """One benchmark table: its DDL (``{table}`` placeholder), columns and a row generator."""

    name: str
    ddl: tuple[str, ...]
    columns: tuple[str, ...]
    rows: Callable[[random.Random, int], Iterator[Row]]
    batch_rows: int  # rows per unlogged batch while filling, kept under the 50 KiB batch fail threshold
    about: str

    def table(self, rows: int) -> str:
        return f"{self.name}_{rows}"


DATASETS: dict[str, Dataset] = {
    "narrow": Dataset(
        "narrow",
        ("CREATE TABLE IF NOT EXISTS {ks}.{table} (k bigint PRIMARY KEY, v text)",),
        ("k", "v"),
        narrow_rows,
        10,
        "key/value, 1 row per partition, ~100 B/row",
    ),
    "wide": Dataset(
        "wide",
        (
            """CREATE TABLE IF NOT EXISTS {ks}.{table} (p int, c int, id uuid, name text, amount bigint,
            score double, ok boolean, at timestamp, day date, qty int, price decimal, note text,
            PRIMARY KEY ((p), c))""",
        ),
        ("p", "c", "id", "name", "amount", "score", "ok", "at", "day", "qty", "price", "note"),
        wide_rows,
        25,
        "12 mixed-type columns, 100 rows per partition, ~650 B/row",
    ),
    "alltypes": Dataset(
        "alltypes",
        (
            "CREATE TYPE IF NOT EXISTS {ks}.bench_addr (street text, zip int, tags frozen<list<text>>)",
            """CREATE TABLE IF NOT EXISTS {ks}.{table} (
            id int, ck text, s_static text static,
            a ascii, t text, ti tinyint, si smallint, i int, bi bigint, vi varint, de decimal,
            f float, d double, b boolean, bl blob, u uuid, tu timeuuid, ip inet, dt date, tm time, ts timestamp,
            du duration, l list<int>, st set<text>, m map<text, int>, tp tuple<int, text, date>,
            ud frozen<bench_addr>, udn bench_addr, fl frozen<list<frozen<map<text, frozen<bench_addr>>>>>,
            lm list<frozen<map<int, date>>>,
            PRIMARY KEY ((id), ck))""",
        ),
        tuple("id ck s_static a t ti si i bi vi de f d b bl u tu ip dt tm ts du l st m tp ud udn fl lm".split()),  # noqa: SIM905
        alltypes_rows,
        10,
        "every CQL type except vector, 10 rows per partition",
    ),
}


def count_rows(session: Any, table: str, slices: int = 64) -> int:
    """Rows of ``bench.<table>``, counted by the driver over token slices (independent of the tools measured).

    One ``count(*)`` over a whole multi-million-row table can pass the server's 10 s range-read
    timeout; 64 token slices, 8 in flight, keep each query short.
    """
    meta = session.cluster.metadata.keyspaces[KEYSPACE].tables[table]
    pk = ", ".join(c.name for c in meta.partition_key)
    lo, hi = -(2**63), 2**63 - 1
    bounds = [lo + (hi - lo) * i // slices for i in range(slices + 1)]
    first = session.prepare(f"SELECT count(*) FROM {KEYSPACE}.{table} WHERE token({pk}) >= ? AND token({pk}) <= ?")
    rest = session.prepare(f"SELECT count(*) FROM {KEYSPACE}.{table} WHERE token({pk}) > ? AND token({pk}) <= ?")
    statements = [(first if i == 0 else rest, (bounds[i], bounds[i + 1])) for i in range(slices)]
    total = 0
    for _, result in execute_concurrent(session, statements, concurrency=8, raise_on_first_error=True):
        total += result.one()[0]
    return total


def create(session: Any, ds: Dataset, table: str) -> None:
    """Create ``table`` (and its types) with ``ds``'s schema, if missing."""
    for stmt in ds.ddl:
        session.execute(stmt.format(ks=KEYSPACE, table=table), timeout=120)


def ensure(session: Any, ds: Dataset, rows: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The filled source table for ``ds`` at ``rows`` rows, filled now unless an identical fill exists."""
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKERS} (name text PRIMARY KEY, rows bigint, seed int, version int, "
        "seconds double)"
    )
    table = ds.table(rows)
    create(session, ds, table)
    marker = session.execute(f"SELECT rows, seed, version, seconds FROM {MARKERS} WHERE name = %s", (table,)).one()
    same = marker and (marker.rows, marker.seed, marker.version) == (rows, seed, GENERATOR_VERSION)
    if same and count_rows(session, table) == rows:
        log(f"reusing {KEYSPACE}.{table}: {rows:,} rows, seed {seed}")
        return {"table": table, "rows": rows, "seed": seed, "reused": True, "fill_seconds": marker.seconds}
    session.execute(f"DELETE FROM {MARKERS} WHERE name = %s", (table,))
    session.execute(f"TRUNCATE {KEYSPACE}.{table}", timeout=300)
    log(f"filling {KEYSPACE}.{table} with {rows:,} rows (seed {seed}) ...")
    took = fill(session, ds, table, rows, seed)
    session.execute(
        f"INSERT INTO {MARKERS} (name, rows, seed, version, seconds) VALUES (%s, %s, %s, %s, %s)",
        (table, rows, seed, GENERATOR_VERSION, took),
    )
    log(f"filled {KEYSPACE}.{table}: {rows:,} rows in {took:.0f}s ({rows / took:,.0f} rows/s)")
    return {"table": table, "rows": rows, "seed": seed, "reused": False, "fill_seconds": took}


def fill(session: Any, ds: Dataset, table: str, rows: int, seed: int) -> float:
    """Insert the generated rows; returns seconds. Fails loudly if any batch fails."""
    started = time.monotonic()
    cols = ", ".join(ds.columns)
    marks = ", ".join("?" for _ in ds.columns)
    insert = session.prepare(f"INSERT INTO {KEYSPACE}.{table} ({cols}) VALUES ({marks})")

    def batches() -> Iterator[tuple[BatchStatement, tuple[()]]]:
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for row in ds.rows(random.Random(seed), rows):
            batch.add(insert, row)
            if len(batch) >= ds.batch_rows:
                yield batch, ()
                batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        if len(batch):
            yield batch, ()

    failed = [r for ok, r in execute_concurrent(session, batches(), concurrency=32, results_generator=True) if not ok]
    if failed:
        raise SystemExit(f"{len(failed)} batches failed while filling {table}: {failed[0]!r}")
    return time.monotonic() - started
