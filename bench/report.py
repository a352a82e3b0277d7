"""From individual runs to the table: medians per (data set, operation, tool) and ratios to the peers.

Medians, not means: the machine is shared and a single slow repetition (a compaction, another
process) should not move the figure. A run that failed, or whose row check failed, is kept in the
JSON with its reason and shown in the ``check`` column; medians use only runs that exited 0.

Three tables: the main one (node and client share every core), the client-bound one (node pinned to
one CPU, client to another: rows per client core) and, once ``cassandra-bulk export --processes``
exists, the processes table. A line compares native page decoding with the driver's.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.cases import CB, CQLSH, DSBULK, NATIVE_OFF, PROCESSES

SHARED = "shared"
CLIENT_BOUND = "client-bound"


@dataclass
class RunRecord:
    """One repetition of one case."""

    dataset: str
    rows: int
    op: str
    tool: str
    family: str
    rep: int
    status: str  # ok | mismatch | failed | unavailable
    problem: str = ""
    seconds: float | None = None
    cpu_seconds: float | None = None
    rows_found: int | None = None
    bytes: int | None = None
    max_rss_mb: float | None = None
    tree_rss_mb: float | None = None
    server_cpu_seconds: float | None = None
    mode: str = SHARED  # or CLIENT_BOUND: node and client pinned to disjoint CPUs
    cpus: str | None = None  # the client's CPUs (taskset -c) in client-bound mode
    wait4_cpu_seconds: float | None = None  # the two sources of cpu_seconds (the larger is used)
    sampled_cpu_seconds: float | None = None
    load_average: float | None = None  # 1-minute load average when the run started

    @property
    def client_cores(self) -> float | None:
        """The client's mean CPU use in cores (user + sys over wall time)."""
        return self.cpu_seconds / self.seconds if self.cpu_seconds is not None and self.seconds else None

    @property
    def server_cores(self) -> float | None:
        s = self.server_cpu_seconds
        return s / self.seconds if s is not None and self.seconds else None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows / self.seconds if self.seconds else None

    @property
    def mb_per_s(self) -> float | None:
        return self.bytes / self.seconds / 1e6 if self.bytes and self.seconds else None

    @property
    def cpu_s_per_m_rows(self) -> float | None:
        return self.cpu_seconds / self.rows * 1e6 if self.cpu_seconds is not None and self.rows else None

    @property
    def server_cpu_s_per_m_rows(self) -> float | None:
        s = self.server_cpu_seconds
        return s / self.rows * 1e6 if s is not None and self.rows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "rows_per_s": self.rows_per_s,
            "mb_per_s": self.mb_per_s,
            "cpu_s_per_m_rows": self.cpu_s_per_m_rows,
            "server_cpu_s_per_m_rows": self.server_cpu_s_per_m_rows,
            "client_cores": self.client_cores,
            "server_cores": self.server_cores,
        }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """One row per (mode, data set, op, tool), in run order, with medians and ratios to DSBulk and
    cqlsh in the same mode."""
    groups: dict[tuple[str, str, int, str, str], list[RunRecord]] = {}
    for r in runs:
        groups.setdefault((r.mode, r.dataset, r.rows, r.op, r.tool), []).append(r)
    rows: list[dict[str, Any]] = []
    for (mode, dataset, n, op, tool), rs in groups.items():
        done = [r for r in rs if r.status == "ok"]  # a run that lost rows has no meaningful speed
        problems = sorted({r.problem for r in rs if r.problem})
        statuses = {r.status for r in rs}
        if statuses == {"unavailable"}:
            check = "n/a"
        elif statuses == {"ok"}:
            check = "OK"
        else:
            check = "MISMATCH" if "mismatch" in statuses else "FAILED"
        rows.append(
            {
                "mode": mode,
                "dataset": dataset,
                "rows": n,
                "op": op,
                "tool": tool,
                "family": rs[0].family,
                "runs": len(done),
                "check": check,
                "problems": problems,
                "seconds": _median([r.seconds for r in done]),
                "rows_per_s": _median([r.rows_per_s for r in done]),
                "mb_per_s": _median([r.mb_per_s for r in done]),
                "cpu_s_per_m_rows": _median([r.cpu_s_per_m_rows for r in done]),
                "server_cpu_s_per_m_rows": _median([r.server_cpu_s_per_m_rows for r in done]),
                "peak_rss_mb": _median([r.tree_rss_mb for r in done]),
                "max_process_rss_mb": _median([r.max_rss_mb for r in done]),
                "client_cores": _median([r.client_cores for r in done]),
                "server_cores": _median([r.server_cores for r in done]),
                "load_average": _median([r.load_average for r in rs]),
                "cpus": rs[0].cpus,
            }
        )
    for row in rows:
        peers = {
            fam: next(
                (
                    p
                    for p in rows
                    if (p["mode"], p["dataset"], p["rows"], p["op"], p["family"])
                    == (row["mode"], row["dataset"], row["rows"], row["op"], fam)
                    and p["rows_per_s"]
                ),
                None,
            )
            for fam in (DSBULK, CQLSH)
        }
        dsb, cql = peers[DSBULK], peers[CQLSH]
        row["x_dsbulk"] = row["rows_per_s"] / dsb["rows_per_s"] if dsb and row["rows_per_s"] else None
        row["x_cqlsh"] = row["rows_per_s"] / cql["rows_per_s"] if cql and row["rows_per_s"] else None
        row["cpu_vs_dsbulk"] = (
            row["cpu_s_per_m_rows"] / dsb["cpu_s_per_m_rows"] if dsb and row["cpu_s_per_m_rows"] else None
        )
        cpu = row["cpu_s_per_m_rows"]
        row["rows_per_client_cpu_s"] = 1e6 / cpu if cpu else None  # rows per second of one busy client core
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def _pct(cores: float | None) -> str:
    return "—" if cores is None else f"{cores * 100:.0f}%"


def _notes(r: dict[str, Any], notes: list[str]) -> str:
    """The check cell, with a footnote number for each distinct problem text."""
    check: str = r["check"]
    if r["problems"]:  # one footnote per distinct text (DSBulk count's reason repeats per data set)
        text = f"{r['tool']}: " + "; ".join(r["problems"])
        if text not in notes:
            notes.append(text)
        check += f" [{notes.index(text) + 1}]"
    return check


def _table(title: str, columns: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_lines=False)
    for col, just in columns:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    return table


def _is_processes(r: dict[str, Any]) -> bool:
    return PROCESSES in r["tool"]


def print_table(summary: list[dict[str, Any]], console: Console, node_cpus: str = "0") -> None:
    """The main table, then the client-bound and processes tables and the native line if they ran."""
    notes: list[str] = []
    main = [r for r in summary if r["mode"] == SHARED and not _is_processes(r)]
    if main:
        _print_main(main, console, notes)
    bound = [r for r in summary if r["mode"] == CLIENT_BOUND]
    if bound:
        _print_client_bound(bound, console, notes, node_cpus)
    procs = [r for r in summary if r["mode"] == SHARED and _is_processes(r)]
    if procs:
        _print_processes(procs, console, notes)
    for line in native_lines(summary):
        console.print(line, soft_wrap=True, markup=False)
    for i, note in enumerate(notes, 1):
        console.print(f"[{i}] {note}", soft_wrap=True, markup=False)


def _print_main(summary: list[dict[str, Any]], console: Console, notes: list[str]) -> None:
    table = _table(
        "cassandra-bulk vs DSBulk vs cqlsh COPY, node and client sharing every core (medians)",
        [
            ("data set", "left"),
            ("op", "left"),
            ("tool", "left"),
            ("rows/s", "right"),
            ("MB/s", "right"),
            ("client CPU s/Mrow", "right"),
            ("client cores", "right"),
            ("server CPU s/Mrow", "right"),
            ("peak RSS MB", "right"),
            ("x DSBulk", "right"),
            ("x cqlsh", "right"),
            ("CPU / DSBulk", "right"),
            ("runs", "right"),
            ("check", "left"),
        ],
    )
    last = None
    for r in summary:
        if last is not None and (r["dataset"], r["op"]) != last:
            table.add_section()
        last = (r["dataset"], r["op"])
        table.add_row(
            f"{r['dataset']} {r['rows']:,}",
            r["op"],
            r["tool"],
            _fmt(r["rows_per_s"], ",.0f"),
            _fmt(r["mb_per_s"], ".1f"),
            _fmt(r["cpu_s_per_m_rows"], ".1f"),
            _fmt(r["client_cores"], ".2f"),
            _fmt(r.get("server_cpu_s_per_m_rows"), ".1f"),
            _fmt(r["peak_rss_mb"], ",.0f"),
            _fmt(r["x_dsbulk"], ".2f"),
            _fmt(r["x_cqlsh"], ".2f"),
            _fmt(r["cpu_vs_dsbulk"], ".2f"),
            str(r["runs"]),
            _notes(r, notes),
            style="bold" if r["family"] == CB else None,
        )
    console.print(table)


def _print_client_bound(summary: list[dict[str, Any]], console: Console, notes: list[str], node_cpus: str) -> None:
    cpus = summary[0].get("cpus") or "?"
    table = _table(
        f"client-bound: node pinned to CPU {node_cpus}, client to CPU {cpus} (medians); rows/s = rows per client core",
        [
            ("data set", "left"),
            ("tool", "left"),
            ("rows/s", "right"),
            ("client CPU s/Mrow", "right"),
            ("rows per client CPU-s", "right"),
            ("client core busy", "right"),
            ("node core busy", "right"),
            ("peak RSS MB", "right"),
            ("x DSBulk rows/s", "right"),
            ("x DSBulk rows/CPU-s", "right"),
            ("runs", "right"),
            ("check", "left"),
        ],
    )
    for r in summary:
        per_cpu = 1 / r["cpu_vs_dsbulk"] if r["cpu_vs_dsbulk"] else None
        table.add_row(
            f"{r['dataset']} {r['rows']:,}",
            r["tool"],
            _fmt(r["rows_per_s"], ",.0f"),
            _fmt(r["cpu_s_per_m_rows"], ".1f"),
            _fmt(r["rows_per_client_cpu_s"], ",.0f"),
            _pct(r["client_cores"]),
            _pct(r["server_cores"]),
            _fmt(r["peak_rss_mb"], ",.0f"),
            _fmt(r["x_dsbulk"], ".2f"),
            _fmt(per_cpu, ".2f"),
            str(r["runs"]),
            _notes(r, notes),
            style="bold" if r["family"] == CB else None,
        )
    console.print(table)


def _print_processes(summary: list[dict[str, Any]], console: Console, notes: list[str]) -> None:
    table = _table(
        "cassandra-bulk export / load --processes N (Parquet, node and client sharing every core, medians)",
        [
            ("data set", "left"),
            ("op", "left"),
            ("processes", "right"),
            ("rows/s", "right"),
            ("x 1 process", "right"),
            ("client CPU s/Mrow", "right"),
            ("client cores", "right"),
            ("server CPU s/Mrow", "right"),
            ("peak RSS MB (tree)", "right"),
            ("largest process MB", "right"),
            ("runs", "right"),
            ("check", "left"),
        ],
    )
    for r in summary:
        one = next(
            (
                p
                for p in summary
                if (p["dataset"], p["rows"], p["op"]) == (r["dataset"], r["rows"], r["op"])
                and p["tool"].endswith(f"{PROCESSES} 1")
            ),
            None,
        )
        speedup = r["rows_per_s"] / one["rows_per_s"] if one and one["rows_per_s"] and r["rows_per_s"] else None
        table.add_row(
            f"{r['dataset']} {r['rows']:,}",
            r["op"],
            r["tool"].rsplit(" ", 1)[-1],
            _fmt(r["rows_per_s"], ",.0f"),
            _fmt(speedup, ".2f"),
            _fmt(r["cpu_s_per_m_rows"], ".1f"),
            _fmt(r["client_cores"], ".2f"),
            _fmt(r.get("server_cpu_s_per_m_rows"), ".1f"),
            _fmt(r["peak_rss_mb"], ",.0f"),
            _fmt(r["max_process_rss_mb"], ",.0f"),
            str(r["runs"]),
            _notes(r, notes),
        )
    console.print(table)


def native_lines(summary: list[dict[str, Any]]) -> list[str]:
    """One line per mode, data set and case: cassandra-bulk's Parquet export (native page decoding)
    and load (native encoding) against the same with ``CASSANDRA_BULK_NATIVE=0``."""
    out = []
    for off in (r for r in summary if r["tool"].endswith(NATIVE_OFF)):
        on = next(
            (
                r
                for r in summary
                if (r["mode"], r["dataset"], r["rows"], r["tool"])
                == (off["mode"], off["dataset"], off["rows"], off["tool"].removesuffix(f", {NATIVE_OFF}"))
            ),
            None,
        )
        if not on or not on["rows_per_s"] or not off["rows_per_s"] or not on["cpu_s_per_m_rows"]:
            continue
        what = "encoding" if on["op"] == "load" else "decoding"
        out.append(
            f"native {what} ({off['mode']}, {off['dataset']} {off['rows']:,}, {on['tool']}): "
            f"{on['rows_per_s']:,.0f} vs {off['rows_per_s']:,.0f} rows/s "
            f"({on['rows_per_s'] / off['rows_per_s']:.2f}x), "
            f"client CPU {on['cpu_s_per_m_rows']:.1f} vs {off['cpu_s_per_m_rows']:.1f} s/Mrow "
            f"({on['cpu_s_per_m_rows'] / off['cpu_s_per_m_rows']:.2f}x)"
        )
    return out
