"""A table holding every Cassandra 5 type, with edge values, and an independent value comparison.

Shared by the export tests (and later the load round trip). The comparison converts both sides to
plain Python without the engine's code, so a mapping bug cannot hide behind itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import random
import uuid
from typing import Any

from cassandra.util import Date, Duration, Time

SCHEMA = [
    "CREATE TYPE IF NOT EXISTS {ks}.addr (street text, zip int, tags frozen<list<text>>)",
    """CREATE TABLE IF NOT EXISTS {ks}.all_types (
        id int, ck text, s_static text static,
        a ascii, t text, ti tinyint, si smallint, i int, bi bigint, vi varint, de decimal,
        f float, d double, b boolean, bl blob, u uuid, tu timeuuid, ip inet, dt date, tm time, ts timestamp,
        du duration, l list<int>, st set<text>, m map<text, int>, tp tuple<int, text, date>, ud frozen<addr>,
        udn addr, fl frozen<list<frozen<map<text, frozen<addr>>>>>, vf vector<float, 3>, vt vector<text, 2>,
        lm list<frozen<map<int, date>>>,
        PRIMARY KEY ((id), ck))""",
]

COLUMNS = [
    "id",
    "ck",
    "s_static",
    "a",
    "t",
    "ti",
    "si",
    "i",
    "bi",
    "vi",
    "de",
    "f",
    "d",
    "b",
    "bl",
    "u",
    "tu",
    "ip",
    "dt",
    "tm",
    "ts",
    "du",
    "l",
    "st",
    "m",
    "tp",
    "ud",
    "udn",
    "fl",
    "vf",
    "vt",
    "lm",
]

EDGE_ROWS: list[dict[str, Any]] = [
    {  # maxima, unicode, special floats
        "id": 1,
        "ck": "max",
        "s_static": "static ✓",
        "a": "~ascii",
        "t": 'ünïcødé "quoted", comma\nnewline',
        "ti": 127,
        "si": 32767,
        "i": 2**31 - 1,
        "bi": 2**63 - 1,
        "vi": 10**37 + 7,
        "de": decimal.Decimal("1.23E+5"),
        "f": float("nan"),
        "d": float("inf"),
        "b": True,
        "bl": bytes(range(256)) * 40,
        "u": uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        "tu": uuid.UUID("50554d6e-29bb-11e5-b345-feff819cdc9f"),
        "ip": "2001:db8::ff00:42:8329",
        "dt": Date(2**31 - 1),
        "tm": Time(86399999999999),
        "ts": dt.datetime(9999, 12, 31, 23, 59, 59, 999000),
        "du": Duration(1, 2, 3),
        "l": [2**31 - 1, 0],
        "st": {"b", "a"},
        "m": {"k": 1, "ü": -1},
        "tp": (1, "x", Date(0)),
        "ud": {"street": "s", "zip": 1, "tags": ["x", "y"]},
        "udn": {"street": "n", "zip": None, "tags": []},
        "fl": [{"m": {"street": "q", "zip": 3, "tags": None}}],
        "vf": [1.5, -0.0, 3.4028234663852886e38],
        "vt": ["a", "ü"],
        "lm": [{1: Date(-1)}],
    },
    {  # minima, negative everything, dates before 1970
        "id": 2,
        "ck": "min",
        "a": "",
        "t": "",
        "ti": -128,
        "si": -32768,
        "i": -(2**31),
        "bi": -(2**63),
        "vi": -(10**37) - 7,
        "de": decimal.Decimal("-0.000000000000000000000000000001"),
        "f": float("-inf"),
        "d": -0.0,
        "b": False,
        "bl": b"",
        "u": uuid.UUID(int=0),
        "ip": "0.0.0.0",
        "dt": Date(-(2**31)),
        "tm": Time(0),
        "ts": dt.datetime(1, 1, 1),
        "du": Duration(-1, -2, -3),
        "l": [],
        "st": set(),
        "m": {},
        "tp": (None, None, None),
        "vf": [-1.0, 0.0, 1e-45],
        "vt": ["", ""],
    },
    {"id": 3, "ck": "nulls"},  # every regular column null
]


def random_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        rows.append(
            {
                "id": 100 + k // 3,
                "ck": f"c{k % 3}",
                "s_static": f"s{k // 3}",
                "a": f"a{k}",
                "t": f"t-{k}-é",
                "ti": rng.randint(-128, 127),
                "si": rng.randint(-32768, 32767),
                "i": rng.randint(-(2**31), 2**31 - 1),
                "bi": rng.randint(-(2**63), 2**63 - 1),
                "vi": rng.randint(-(10**30), 10**30),
                "de": decimal.Decimal(rng.randint(-(10**12), 10**12)).scaleb(-rng.randint(0, 9)),
                "f": rng.uniform(-1e6, 1e6),
                "d": rng.uniform(-1e12, 1e12),
                "b": rng.random() < 0.5,
                "bl": rng.randbytes(rng.randint(0, 64)),
                "u": uuid.UUID(int=rng.getrandbits(128)),
                "tu": uuid.uuid1(node=k, clock_seq=k % 16000),
                "ip": f"10.{k % 256}.{rng.randint(0, 255)}.1",
                "dt": Date(rng.randint(-100_000, 100_000)),
                "tm": Time(rng.randint(0, 86399999999999)),
                "ts": dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=rng.randint(-(10**12), 10**13)),
                "du": Duration(rng.randint(0, 20), rng.randint(0, 30), rng.randint(0, 10**12)),
                "l": [rng.randint(0, 9) for _ in range(rng.randint(0, 3))] or None,
                "st": {f"s{rng.randint(0, 5)}" for _ in range(rng.randint(0, 3))} or None,
                "m": {f"k{j}": j for j in range(rng.randint(0, 3))} or None,
                "tp": (k, f"x{k}", Date(k)),
                "ud": {"street": f"st{k}", "zip": k, "tags": [str(k)]},
                "udn": {"street": None, "zip": k, "tags": None},
                "fl": [{"a": {"street": "q", "zip": k, "tags": ["t"]}}],
                "vf": [rng.random(), rng.random(), 1.0],
                "vt": [f"v{k}", "w"],
                "lm": [{k: Date(k)}],
            }
        )
    return rows


def create_and_fill(session: Any, ks: str, rows: list[dict[str, Any]]) -> None:
    from cassandra.concurrent import execute_concurrent_with_args

    for stmt in SCHEMA:
        session.execute(stmt.format(ks=ks))
    cluster = session.cluster
    cluster.refresh_schema_metadata()

    class Addr:
        def __init__(self, street: Any = None, zip: Any = None, tags: Any = None) -> None:
            self.street, self.zip, self.tags = street, zip, tags

    cluster.register_user_type(ks, "addr", Addr)

    def conv(row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        for key in ("ud", "udn"):
            if out.get(key) is not None:
                out[key] = Addr(**out[key])
        if out.get("fl") is not None:
            out["fl"] = [{k: Addr(**v) for k, v in m.items()} for m in out["fl"]]
        return out

    for cols in {tuple(sorted(r)) for r in rows}:
        insert = session.prepare(
            f"INSERT INTO {ks}.all_types ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        )
        batch = [tuple(conv(r)[c] for c in cols) for r in rows if tuple(sorted(r)) == cols]
        results = execute_concurrent_with_args(session, insert, batch, concurrency=32, raise_on_first_error=True)
        assert all(ok for ok, _ in results)


# -- independent comparison -----------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1)


def _days(v: Any) -> int:
    if isinstance(v, Date):
        return int(v.days_from_epoch)
    return (v - dt.date(1970, 1, 1)).days


def _ms(v: Any) -> int:
    if isinstance(v, int):
        return v
    return round((v.replace(tzinfo=None) - _EPOCH) / dt.timedelta(milliseconds=1))


def plain(value: Any) -> Any:
    """A driver value as plain, comparable Python (dates as day numbers, times as ns, ...)."""
    if value is None:
        return None
    if isinstance(value, Date) or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return ("date", _days(value))
    if isinstance(value, dt.datetime):
        return ("ts", _ms(value))
    if isinstance(value, Time):
        return ("time", value.nanosecond_time)
    if isinstance(value, Duration):
        return ("dur", value.months, value.days, value.nanoseconds)
    if isinstance(value, decimal.Decimal):
        return ("dec", str(value))
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value
    if hasattr(value, "_fields"):  # UDT namedtuple
        return {f: plain(getattr(value, f)) for f in value._fields}
    if isinstance(value, dict) or hasattr(value, "items"):
        return sorted((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "SortedSet":
        return [plain(x) for x in value]
    return value


def reference_rows(session: Any, keyspace: str) -> dict[tuple[int, str], dict[str, Any]]:
    """Every row of ``all_types`` as plain values read by the driver, without the engine.

    The driver decodes a timestamp through float seconds and can be a millisecond off; the stored
    milliseconds come from the server itself (``toUnixTimestamp``), so the reference is exact."""
    rows = {
        (r.id, r.ck): {c: plain(getattr(r, c)) for c in COLUMNS}
        for r in session.execute(f"SELECT * FROM {keyspace}.all_types")
    }
    for r in session.execute(f"SELECT id, ck, toUnixTimestamp(ts) AS ms FROM {keyspace}.all_types"):
        rows[(r.id, r.ck)]["ts"] = None if r.ms is None else ("ts", r.ms)
    return rows
