"""Issue "Decode pages straight into Arrow": the native page decoder gives exactly the Arrow arrays
and EMPTY counts of the Python (exact driver) path.

Real pages are captured from the node (every scalar type, vectors, collections, a UDT, a tuple,
a custom type, edge values), then the same page bytes are decoded both ways and compared. The
parser's formatting (varint, decimal, inet) is also checked against Python on synthetic pages."""

from __future__ import annotations

import io
import math
import random
import socket
import struct
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from cassandra_bulk_core.types import native
from cassandra_bulk_core.types.decode import ExactMetadata

pytestmark = pytest.mark.skipif(native.module() is None, reason="cassandra_bulk_native is not built")


# -- comparisons ----------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """Python values equal, NaN equal to NaN, -0.0 not equal to 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def assert_same_batches(got: pa.RecordBatch, want: pa.RecordBatch) -> None:
    assert got.schema == want.schema
    assert got.num_rows == want.num_rows
    for name, a, b in zip(got.schema.names, got.columns, want.columns, strict=True):
        a.validate(full=True)
        assert a.type == b.type, name
        assert a.null_count == b.null_count, name
        if not a.equals(b):  # NaN never equals itself in Arrow: compare the values instead
            assert _same(a.to_pylist(), b.to_pylist()), (name, a.to_pylist()[:5], b.to_pylist()[:5])


# -- the parser's text forms against Python, on synthetic pages ------------------------------------


def _page(cells: list[bytes | None]) -> bytes:
    out = [struct.pack(">i", len(cells))]
    for c in cells:
        out.append(struct.pack(">i", -1) if c is None else struct.pack(">i", len(c)) + c)
    return b"".join(out)


def _parse_one(code: int, cells: list[bytes | None], shape: int = native.SCALAR) -> list[Any]:
    t = {15: pa.string(), 16: pa.string(), 17: pa.string()}[code]
    rows, cols, fallback = native.module().parse_rows(_page(cells), [(shape, code, 0, 0)])
    assert rows == len(cells) and fallback is None
    return native._array(t, cols[0][0]).to_pylist()


def _varint_bytes(v: int) -> bytes:
    return v.to_bytes(max(1, (v + (v < 0)).bit_length() // 8 + 1), "big", signed=True)


def test_varint_and_decimal_text_match_python() -> None:
    rng = random.Random(7)
    values = [0, 1, -1, 127, -128, 128, -129, 2**63, -(2**63), 2**127 - 1, -(2**127), 10**49, -(10**49) - 7]
    values += [rng.randrange(-(2**400), 2**400) >> rng.randrange(0, 400) for _ in range(300)]
    cells = [_varint_bytes(v) for v in values] + [b"\x00\x00\x01", b"\xff\xff\xff"]  # non-minimal too
    want = [str(int.from_bytes(c, "big", signed=True)) for c in cells]
    assert _parse_one(15, cells) == want

    scales = [0, 1, 2, 5, 6, 7, 10, 30, -1, -2, -10, 2**31 - 1, -(2**31)]
    dec_cells = []
    for v in values[:120]:
        for s in (rng.choice(scales), rng.randrange(-40, 40)):
            dec_cells.append(struct.pack(">i", s) + _varint_bytes(v))
    dec_cells.append(struct.pack(">i", 3))  # no unscaled bytes: 0
    want = []
    for c in dec_cells:
        scale = struct.unpack(">i", c[:4])[0]
        want.append(str(Decimal(f"{int.from_bytes(c[4:], 'big', signed=True)}e{-scale}")))
    assert _parse_one(16, dec_cells) == want


def test_inet_text_matches_inet_ntop() -> None:
    rng = random.Random(11)
    cells = [bytes(rng.randrange(256) for _ in range(4)) for _ in range(50)]
    shapes = [
        "::",
        "::1",
        "1::",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "::ffff:0:1.2.3.4",
        "1:0:0:1::",
        "1:0:1:0:1:0:1:0",
        "0:0:1:0:0:0:1:0",
        "fe80::1:2:3:4",
        "2001:db8::ff00:42:8329",
        "0:0:0:0:0:ffff:0:0",
        "::0:0:0:1",
    ]
    cells += [socket.inet_pton(socket.AF_INET6, s) for s in shapes]
    for _ in range(300):  # words drawn from {0, 1, 0xffff, random} so runs of zeros are common
        words = [rng.choice([0, 0, 0, 1, 0xFFFF, rng.randrange(65536)]) for _ in range(8)]
        cells.append(struct.pack(">8H", *words))
    want = [socket.inet_ntoa(c) if len(c) == 4 else socket.inet_ntop(socket.AF_INET6, c) for c in cells]
    assert _parse_one(17, cells) == want


def test_refused_values_raise() -> None:
    parse = native.module().parse_rows
    with pytest.raises(ValueError):
        parse(_page([b"\x00\x01\x02"]), [(native.SCALAR, 3, 0, 0)])  # an int of 3 bytes
    with pytest.raises(ValueError):
        parse(_page([b"\xff\xfe"]), [(native.SCALAR, 12, 0, 0)])  # invalid UTF-8
    with pytest.raises(ValueError):
        parse(_page([b"\x00\x00\x00\x01\xff\xff\xff\xff"]), [(native.LIST, 3, 0, 0)])  # null element
    with pytest.raises(ValueError):
        parse(b"\x00\x00\x00\x02\x00\x00\x00\x04\x00", [(native.SCALAR, 3, 0, 0)])  # truncated


# -- real pages from the node ----------------------------------------------------------------------

CUSTOM = (
    "'org.apache.cassandra.db.marshal.DynamicCompositeType(s=>org.apache.cassandra.db.marshal.UTF8Type,"
    "i=>org.apache.cassandra.db.marshal.Int32Type)'"
)
COLUMNS = {
    "a": "ascii",
    "t": "text",
    "ti": "tinyint",
    "si": "smallint",
    "i": "int",
    "bi": "bigint",
    "vi": "varint",
    "de": "decimal",
    "f": "float",
    "d": "double",
    "b": "boolean",
    "bl": "blob",
    "u": "uuid",
    "tu": "timeuuid",
    "ip": "inet",
    "dt": "date",
    "tm": "time",
    "ts": "timestamp",
    "du": "duration",
    "vf": "vector<float, 3>",
    "vb": "vector<bigint, 2>",
    "vn": "vector<int, 2>",
    "vd": "vector<double, 2>",
    "li": "list<int>",
    "st": "set<text>",
    "mp": "map<text, int>",
    "lu": "list<uuid>",
    "lv": "list<varint>",
    "ld": "list<duration>",
    "md": "map<int, decimal>",
    "mt": "map<timestamp, inet>",
    "sb": "set<bigint>",
    "sts": "set<timestamp>",
    "sf": "set<float>",
    "sd": "set<decimal>",
    "ud": "frozen<pt>",
    "tp": "tuple<int, text>",
    "cu": CUSTOM,
    "nl": "list<frozen<list<int>>>",
    "vt": "vector<text, 2>",
}
# Columns the native parser must decode itself (the rest fall back to the driver).
NATIVE = [c for c in COLUMNS if c not in {"sf", "sd", "ud", "tp", "cu", "nl", "vt"}]

EDGE_ROWS = [
    # maxima, +Inf, NaN, far timestamps, the last CQL date, empty strings and blobs, unicode
    {
        "a": "''",
        "t": "'ünï ☃ 𝄞'",
        "ti": "127",
        "si": "32767",
        "i": "2147483647",
        "bi": "9223372036854775807",
        "vi": "12345678901234567890123456789012345678901234567890",
        "de": "1.5E+10",
        "f": "NaN",
        "d": "Infinity",
        "b": "true",
        "bl": "0x",
        "u": "uuid()",
        "tu": "now()",
        "ip": "'::ffff:1.2.3.4'",
        "dt": "4294967295",
        "tm": "'23:59:59.999999999'",
        "ts": "9223372036854775807",
        "du": "1y2mo3w4d5h6m7s8ms9us10ns",
        "vf": "[NaN, Infinity, -0.0]",
        "vb": "[9223372036854775807, -9223372036854775808]",
        "vn": "[2147483647, -2147483648]",
        "vd": "[-Infinity, 1e308]",
        "li": "[1, 2, 3]",
        "st": "{'', 'a', 'é', '𝄞'}",
        "mp": "{'': 0, 'x': -1}",
        "lu": "[uuid(), 00000000-0000-0000-0000-000000000000]",
        "lv": "[0, -98765432109876543210987654321]",
        "ld": "[-1d, 0s]",
        "md": "{1: 0.000000123, -5: -1E+30}",
        "mt": "{-62135596800001: '::', 253402300800000: '1::'}",
        "sb": "{-9223372036854775808, 0, 5}",
        "sts": "{-1, 0, 1}",
        "sf": "{-0.0, 1.5, NaN}",
        "sd": "{10, 9, 0.5}",
        "ud": "{x: 1, y: 'y'}",
        "tp": "(1, 'one')",
        "cu": "0x8073000161008069000400000001ff",
        "nl": "[[1], [], [2, 3]]",
        "vt": "['a', '']",
    },
    # minima, -Inf, -0.0, timestamps before year 1, the first CQL date, negative scale
    {
        "a": "'ascii'",
        "t": "''",
        "ti": "-128",
        "si": "-32768",
        "i": "-2147483648",
        "bi": "-9223372036854775808",
        "vi": "-12345678901234567890123456789012345678901234567890",
        "de": "-0.00000000000000000001",
        "f": "-Infinity",
        "d": "-0.0",
        "b": "false",
        "bl": "0x00ff",
        "u": "00000000-0000-0000-0000-000000000000",
        "tu": "maxTimeuuid('2100-01-01')",
        "ip": "'255.255.255.255'",
        "dt": "0",
        "tm": "'00:00:00'",
        "ts": "-9223372036854775808",
        "du": "-P1Y2M3DT4H5M6S",
        "vf": "[-Infinity, 3.4028235e38, 1.4e-45]",
        "vb": "[0, -1]",
        "vn": "[0, 0]",
        "vd": "[NaN, -0.0]",
        "li": "[]",
        "st": "{}",
        "mp": "{'k': 2147483647}",
        "lu": "[]",
        "lv": "[1]",
        "ld": "[]",
        "md": "{}",
        "mt": "{0: '10.0.0.1'}",
        "sb": "{}",
        "sts": "{-62135596800001}",
        "sf": "{-Infinity}",
        "sd": "{-1E-7}",
        "ud": "{x: null, y: ''}",
        "tp": "(null, null)",
        "cu": "0x",
        "nl": "[]",
        "vt": "['', '𝄞']",
    },
    # EMPTY (zero-length) values of every fixed-width type that allows them (the server refuses
    # them for tinyint, smallint, date, time and duration)
    {
        "a": "''",
        "t": "''",
        "i": "blobAsInt(0x)",
        "bi": "blobAsBigint(0x)",
        "vi": "blobAsVarint(0x)",
        "de": "blobAsDecimal(0x)",
        "f": "blobAsFloat(0x)",
        "d": "blobAsDouble(0x)",
        "b": "blobAsBoolean(0x)",
        "bl": "0x",
        "u": "blobAsUuid(0x)",
        "tu": "blobAsTimeuuid(0x)",
        "ip": "blobAsInet(0x)",
        "ts": "blobAsTimestamp(0x)",
        "li": "[blobAsInt(0x), 7]",
        "mp": "{'e': blobAsInt(0x)}",
        "md": "{3: blobAsDecimal(0x)}",
    },
    {},  # every column null
]


def _random_row(rng: random.Random, n: int) -> dict[str, str]:
    def q(s: str) -> str:
        return "'" + s.replace("'", "''") + "'"

    words = ["", "a", "β", "日本", "x'y", "😀"]
    return {
        "a": q("".join(rng.choice("abc XYZ") for _ in range(rng.randrange(6)))),
        "t": q(rng.choice(words) * rng.randrange(3)),
        "ti": str(rng.randrange(-128, 128)),
        "si": str(rng.randrange(-(2**15), 2**15)),
        "i": str(rng.randrange(-(2**31), 2**31)),
        "bi": str(rng.randrange(-(2**63), 2**63)),
        "vi": str(rng.randrange(-(10**30), 10**30)),
        "de": f"{rng.randrange(-(10**12), 10**12)}E{rng.randrange(-20, 20)}",
        "f": repr(rng.uniform(-1e6, 1e6)),
        "d": repr(rng.uniform(-1e300, 1e300)),
        "b": rng.choice(["true", "false"]),
        "bl": "0x" + bytes(rng.randrange(256) for _ in range(rng.randrange(8))).hex(),
        "u": "uuid()",
        "tu": "now()",
        "ip": q(
            rng.choice(
                [
                    ".".join(str(rng.randrange(256)) for _ in range(4)),
                    ":".join(f"{rng.choice([0, 0, 1, rng.randrange(65536)]):x}" for _ in range(8)),
                ]
            )
        ),
        "dt": str(rng.randrange(0, 2**32)),
        "tm": str(rng.randrange(0, 86400 * 10**9)),
        "ts": str(rng.randrange(-(2**50), 2**50)),
        "du": rng.choice(["1d", "-3mo", "12h30m", "0s", "1y1ns"]),
        "vf": f"[{rng.uniform(-1, 1)}, {rng.uniform(-1, 1)}, {n}]",
        "vb": f"[{rng.randrange(-(2**63), 2**63)}, {n}]",
        "vn": f"[{n}, {rng.randrange(-(2**31), 2**31)}]",
        "vd": f"[{rng.uniform(-1, 1)}, {n}]",
        "li": "[" + ", ".join(str(rng.randrange(-100, 100)) for _ in range(rng.randrange(5))) + "]",
        "st": "{" + ", ".join(q(rng.choice(words) + str(k)) for k in range(rng.randrange(4))) + "}",
        "mp": "{" + ", ".join(f"{q(str(k))}: {rng.randrange(100)}" for k in range(rng.randrange(4))) + "}",
        "lv": f"[{rng.randrange(-(10**40), 10**40)}]",
        "md": "{" + ", ".join(f"{k}: {rng.randrange(-999, 999)}E{rng.randrange(-9, 9)}" for k in range(3)) + "}",
        "sb": "{" + ", ".join(str(rng.randrange(-(2**63), 2**63)) for _ in range(rng.randrange(4))) + "}",
        "ud": f"{{x: {n}, y: {q(str(n))}}}",
        "tp": f"({n}, {q('t' * (n % 3))})",
        "nl": f"[[{n}], [{n}, {n + 1}]]",
    }


def _fill(session: Any, keyspace: str) -> None:
    session.execute(f"CREATE TYPE {keyspace}.pt (x int, y text)")
    cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
    session.execute(f"CREATE TABLE {keyspace}.wide (pk int PRIMARY KEY, {cols})")
    rng = random.Random(3)
    rows = [*EDGE_ROWS, *(_random_row(rng, n) for n in range(400))]
    for pk, row in enumerate(rows):
        names = ", ".join(["pk", *row])
        session.execute(f"INSERT INTO {keyspace}.wide ({names}) VALUES ({', '.join([str(pk), *row.values()])})")
    session.execute(f"CREATE TABLE {keyspace}.counts (pk int PRIMARY KEY, c counter)")
    for pk in range(30):
        session.execute(f"UPDATE {keyspace}.counts SET c = c + {(-1) ** pk * 7 ** (pk % 22)} WHERE pk = {pk}")


def _capture(session: Any) -> list[tuple[Any, ...]]:
    """Record every RESULT page decoded with exact metadata: (body, rows offset, version, udts, meta)."""
    handler = session.client_protocol_handler
    result = handler.message_types_by_opcode[8]
    pages: list[tuple[Any, ...]] = []

    def recv_results_rows(self: Any, f: Any, pv: int, utm: Any, meta: Any, *rest: Any) -> Any:
        if isinstance(meta, ExactMetadata):
            pages.append((f.getvalue(), f.tell(), pv, utm, meta))
        return result.recv_results_rows(self, f, pv, utm, meta, *rest)

    cap = type("_Capture", (result,), {"recv_results_rows": recv_results_rows})
    opcodes = {**handler.message_types_by_opcode, 8: cap}
    session.client_protocol_handler = type("_CaptureHandler", (handler,), {"message_types_by_opcode": opcodes})
    return pages


def _decode(page: tuple[Any, ...], result_cls: type) -> Any:
    from cassandra.protocol import RESULT_KIND_ROWS

    body, pos, pv, utm, meta = page
    msg = result_cls(RESULT_KIND_ROWS)
    f = io.BytesIO(body)
    f.seek(pos)
    msg.recv_results_rows(f, pv, utm, meta, None)
    return msg.parsed_rows


def _both_ways(scan: Any, page: tuple[Any, ...], result_cls: type, monkeypatch: Any) -> set[str]:
    """Decode ``page`` natively and the driver's way; the batches and EMPTY counts must agree."""
    monkeypatch.setenv(native.ENV, "1")
    fast = _decode(page, result_cls)
    monkeypatch.setenv(native.ENV, "0")
    slow = _decode(page, result_cls)
    assert isinstance(fast, native.NativePage), "the page was not decoded natively"
    assert isinstance(slow, list)
    for i, c in enumerate(scan.columns):
        assert (fast.arrays[i] is not None) == (c in NATIVE or c in ("pk", "c")), c
    scan.empty_values.clear()
    want = scan.to_batch(slow)
    want_empties = dict(scan.empty_values)
    scan.empty_values.clear()
    got = scan.to_batch(fast)
    assert dict(scan.empty_values) == want_empties
    assert_same_batches(got, want)
    return set(want_empties)


@pytest.mark.integration
@pytest.mark.parametrize(
    "options",
    [{}, {"writetime": True}, {"written_after": 1}],
    ids=["plain", "writetime", "filtered"],
)
def test_captured_pages_decode_the_same_both_ways(
    session: Any, keyspace: str, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    from cassandra_bulk_core.ring import plan_ranges
    from cassandra_bulk_core.scan import ScanOptions, TableScan
    from cassandra_bulk_core.table import resolve_table

    _fill(session, keyspace)
    cluster = session.cluster
    emptied = set()
    for table in ("wide", "counts") if not options else ("wide",):  # counters have no write time
        info = resolve_table(cluster, keyspace, table)
        scan = TableScan(cluster, session, info, ScanOptions(page_size=37, streams=2, **options))
        pages = _capture(session)
        result_cls = session.client_protocol_handler.message_types_by_opcode[8].__mro__[1]
        monkeypatch.setenv(native.ENV, "1")
        rows = sum(b.num_rows for r in plan_ranges(2) for b in scan.batches(r))
        everything = 404 if "written_after" not in options else 403  # the all-null row has no write time
        assert rows == (everything if table == "wide" else 30)
        assert len(pages) >= 2
        for page in pages:
            emptied |= _both_ways(scan, page, result_cls, monkeypatch)
    # the EMPTY row's cells, top level and nested, were seen and counted
    assert {"i", "bi", "vi", "de", "f", "d", "b", "u", "tu", "ip", "ts", "li", "mp", "md"} <= emptied


@pytest.mark.integration
def test_switched_off_and_refused_pages_go_the_driver_way(
    session: Any, keyspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra_bulk_core.ring import plan_ranges
    from cassandra_bulk_core.scan import TableScan
    from cassandra_bulk_core.table import resolve_table

    session.execute(f"CREATE TABLE {keyspace}.s (pk int PRIMARY KEY, v text)")
    for pk in range(20):
        session.execute(f"INSERT INTO {keyspace}.s (pk, v) VALUES ({pk}, 'v{pk}')")
    scan = TableScan(session.cluster, session, resolve_table(session.cluster, keyspace, "s"))
    pages = _capture(session)
    result_cls = session.client_protocol_handler.message_types_by_opcode[8].__mro__[1]
    rows = [r for p in plan_ranges(1) for b in scan.batches(p) for r in b.to_pylist()]
    assert len(rows) == 20

    page = next(p for p in pages if len(_decode(p, result_cls)))
    monkeypatch.setenv(native.ENV, "1")
    assert native.enabled()
    assert isinstance(_decode(page, result_cls), native.NativePage)
    monkeypatch.setenv(native.ENV, "0")
    assert not native.enabled()
    assert isinstance(_decode(page, result_cls), list)

    # A page the parser refuses is decoded by the driver, whole and identical.
    monkeypatch.setenv(native.ENV, "1")

    class Refusing:
        @staticmethod
        def parse_rows(body: bytes, specs: Any) -> Any:
            raise ValueError("refused")

    monkeypatch.setattr(native, "_module", Refusing())
    refused = [_decode(p, result_cls) for p in pages]
    assert all(isinstance(r, list) for r in refused)
    again = [r for rows_ in refused for r in scan.to_batch(rows_).to_pylist()]
    assert sorted(again, key=lambda r: r["pk"]) == sorted(rows, key=lambda r: r["pk"])


def test_without_the_module_every_page_goes_the_driver_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.ENV, "1")
    assert native.enabled()
    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_import_failed", True)  # as when cassandra_bulk_native cannot be imported
    assert native.module() is None and not native.enabled()
