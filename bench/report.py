"""From individual runs to the table: medians per (data set, operation, tool) and ratios to the peers.

Medians, not means: the machine is shared and a single slow repetition (a compaction, another
process) should not move the figure. A run that failed, or whose row check failed, is kept in the
JSON with its reason and shown in the ``check`` column; medians use only runs that exited 0.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.cases import CB, CQLSH, DSBULK


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
        }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(runs: list[RunRecord]) -> list[dict[str, Any]]:
    """One row per (data set, op, tool), in run order, with medians and ratios to DSBulk and cqlsh."""
    groups: dict[tuple[str, int, str, str], list[RunRecord]] = {}
    for r in runs:
        groups.setdefault((r.dataset, r.rows, r.op, r.tool), []).append(r)
    rows: list[dict[str, Any]] = []
    for (dataset, n, op, tool), rs in groups.items():
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
            }
        )
    for row in rows:
        peers = {
            fam: next(
                (
                    p
                    for p in rows
                    if (p["dataset"], p["rows"], p["op"], p["family"]) == (row["dataset"], row["rows"], row["op"], fam)
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
    return rows


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def print_table(summary: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="cassandra-bulk vs DSBulk vs cqlsh COPY (medians)", show_lines=False)
    for col, just in [
        ("data set", "left"),
        ("op", "left"),
        ("tool", "left"),
        ("rows/s", "right"),
        ("MB/s", "right"),
        ("CPU s/Mrow", "right"),
        ("server CPU s/Mrow", "right"),
        ("peak RSS MB", "right"),
        ("x DSBulk", "right"),
        ("x cqlsh", "right"),
        ("CPU / DSBulk", "right"),
        ("runs", "right"),
        ("check", "left"),
    ]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    notes: list[str] = []
    last = None
    for r in summary:
        if last is not None and (r["dataset"], r["op"]) != last:
            table.add_section()
        last = (r["dataset"], r["op"])
        check = r["check"]
        if r["problems"]:  # footnotes, one per distinct text (DSBulk count's reason repeats per data set)
            text = f"{r['tool']}: " + "; ".join(r["problems"])
            if text not in notes:
                notes.append(text)
            check += f" [{notes.index(text) + 1}]"
        table.add_row(
            f"{r['dataset']} {r['rows']:,}",
            r["op"],
            r["tool"],
            _fmt(r["rows_per_s"], ",.0f"),
            _fmt(r["mb_per_s"], ".1f"),
            _fmt(r["cpu_s_per_m_rows"], ".1f"),
            _fmt(r.get("server_cpu_s_per_m_rows"), ".1f"),
            _fmt(r["peak_rss_mb"], ",.0f"),
            _fmt(r["x_dsbulk"], ".2f"),
            _fmt(r["x_cqlsh"], ".2f"),
            _fmt(r["cpu_vs_dsbulk"], ".2f"),
            str(r["runs"]),
            check,
            style="bold" if r["family"] == CB else None,
        )
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"[{i}] {note}", soft_wrap=True, markup=False)
