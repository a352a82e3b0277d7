"""Every (operation, tool) pair the benchmark runs: its command line, its preparation and its check.

A case never trusts a tool's own report for the row count it is judged on: exports are counted in
the files they wrote (CSV lines, Parquet footers), loads by ``SELECT count(*)`` on the target table
after the run, counts against the known fill. The last export of each kind stays on disk as the
source of the matching load (DSBulk loads what DSBulk unloaded, cqlsh what cqlsh wrote, and
cassandra-bulk its own CSV and Parquet exports).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.datasets import count_rows
from tools import dsbulk

DSBULK = "dsbulk"
CQLSH = "cqlsh"
CB = "cassandra-bulk"


@dataclass
class Context:
    """One data set on one node: where it is, how big it is, where its files go."""

    host: str
    port: int
    keyspace: str
    table: str  # the filled source table
    load_table: str  # an empty copy that loads write into (truncated before each run)
    rows: int
    work: Path  # this data set's directory for exports and logs
    session: Any  # a driver session, for TRUNCATE and the checks
    cb_export_args: tuple[str, ...] = ()  # extra `cassandra-bulk export` flags (tuning experiments)
    cb_load_args: tuple[str, ...] = ()  # extra `cassandra-bulk load` flags

    def out(self, slug: str) -> Path:
        return self.work / "out" / slug


@dataclass
class Check:
    """What a finished run produced: rows found, bytes written or read, and a problem if any."""

    rows: int | None
    bytes: int | None
    problem: str = ""


def count_csv_rows(files: list[Path], header: bool = True) -> int:
    """Data lines in CSV files (the data sets hold no newline inside a value)."""
    total = 0
    for f in files:
        lines = 0
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                lines += chunk.count(b"\n")
        total += lines - (1 if header and lines else 0)
    return total


def table_rows(ctx: Context, table: str) -> int:
    return count_rows(ctx.session, table)


def _python_cli(*args: str) -> list[str]:
    """cassandra-bulk's CLI in this interpreter (no ``uv run`` start-up cost inside the timing)."""
    return [sys.executable, "-m", "cassandra_bulk_core", *args]


def _cqlsh(ctx: Context, statement: str) -> list[str]:
    cqlsh = Path(sys.executable).parent / "cqlsh"
    return [str(cqlsh), ctx.host, str(ctx.port), "--request-timeout", "600", "-e", statement]


@functools.cache
def cb_load_available() -> str:
    """ "" when ``cassandra-bulk load`` exists, else why not (it is being written: issue #5)."""
    res = subprocess.run(_python_cli("load", "--help"), capture_output=True, text=True, check=False)
    if res.returncode == 0:
        return ""
    last = (res.stderr or res.stdout).strip().splitlines()[-1:] or [f"exit {res.returncode}"]
    return f"`cassandra-bulk load` not available yet ({last[0]})"


@functools.cache
def cb_processes_available() -> str:
    """ "" when ``cassandra-bulk export`` accepts ``--processes``, else why not (the processes table
    lights up by itself once it does)."""
    res = subprocess.run(_python_cli("export", "--help"), capture_output=True, text=True, check=False)
    if res.returncode == 0 and "--processes" in res.stdout:
        return ""
    return "`cassandra-bulk export` has no --processes option (yet)"


@functools.cache
def native_decoding() -> str:
    """Whether cassandra-bulk decodes pages natively by default: "on", or "off (why)"."""
    try:
        from cassandra_bulk_core.types import native
    except ImportError as exc:
        return f"off ({exc})"
    if native.enabled():
        return "on"
    return "off (CASSANDRA_BULK_NATIVE is set)" if native.module() is not None else "off (no compiled module)"


@functools.cache
def dsbulk_count_available() -> str:
    try:
        jar, reason = dsbulk.count_jar()
    except Exception as exc:
        return f"DSBulk not provisioned: {exc}"
    return "" if jar else reason


@dataclass
class Case:
    """One (operation, tool) pair. Subclasses fill in the command and the check."""

    op: str
    tool: str  # the label in the table, e.g. "cassandra-bulk parquet"
    family: str  # DSBULK, CQLSH or CB: what the ratios compare
    slug: str
    env: dict[str, str] = field(default_factory=dict)  # extra environment variables for the tool

    def unavailable(self, ctx: Context) -> str:
        return ""

    def prepare(self, ctx: Context) -> None:
        """Runs before each repetition, outside the timing."""

    def command(self, ctx: Context) -> list[str]:
        raise NotImplementedError

    def check(self, ctx: Context, stdout: str) -> Check:
        raise NotImplementedError


# ---------------------------------------------------------------- export


class ExportCase(Case):
    """An export into ``ctx.out(slug)``; a verified result is marked so a load can reuse it."""

    def prepare(self, ctx: Context) -> None:
        dest = ctx.out(self.slug)
        shutil.rmtree(dest, ignore_errors=True)
        dest.with_suffix(".ok").unlink(missing_ok=True)
        dest.parent.mkdir(parents=True, exist_ok=True)

    def files(self, ctx: Context) -> list[Path]:
        raise NotImplementedError

    def count(self, files: list[Path]) -> int:
        return count_csv_rows(files)

    def check(self, ctx: Context, stdout: str) -> Check:
        files = self.files(ctx)
        rows = self.count(files)
        size = sum(f.stat().st_size for f in files)
        if rows == ctx.rows:
            ctx.out(self.slug).with_suffix(".ok").write_text(str(rows))
            return Check(rows, size)
        return Check(rows, size, f"{rows:,} rows written, expected {ctx.rows:,}")

    def ready(self, ctx: Context) -> bool:
        """True when the last verified export of this kind is on disk (a load can use it)."""
        ok = ctx.out(self.slug).with_suffix(".ok")
        return ok.exists() and ok.read_text() == str(ctx.rows)


class DsbulkUnload(ExportCase):
    def command(self, ctx: Context) -> list[str]:
        return dsbulk.command(
            "unload",
            *("-k", ctx.keyspace, "-t", ctx.table, "-h", ctx.host, "-port", str(ctx.port)),
            *("-url", str(ctx.out(self.slug)), "-header", "true"),
            *("-logDir", str(ctx.work / "dsbulk-logs")),
        )

    def files(self, ctx: Context) -> list[Path]:
        return sorted(ctx.out(self.slug).glob("output-*.csv"))


class CqlshCopyTo(ExportCase):
    def command(self, ctx: Context) -> list[str]:
        dest = ctx.out(self.slug) / "data.csv"
        ctx.out(self.slug).mkdir(parents=True, exist_ok=True)
        return _cqlsh(ctx, f"COPY {ctx.keyspace}.{ctx.table} TO '{dest}' WITH HEADER = true")

    def files(self, ctx: Context) -> list[Path]:
        return sorted(ctx.out(self.slug).glob("data.csv*"))


class CbExport(ExportCase):
    """``cassandra-bulk export`` to files (csv/parquet) or to an Iceberg table (embedded catalog).

    ``processes``: pass ``--processes N`` (the case is unavailable while the CLI has no such option).
    """

    def __init__(self, fmt: str, processes: int | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.fmt = fmt
        self.processes = processes

    def unavailable(self, ctx: Context) -> str:
        return cb_processes_available() if self.processes else ""

    def command(self, ctx: Context) -> list[str]:
        base = _python_cli(
            "export", "-h", ctx.host, "--port", str(ctx.port), "-t", f"{ctx.keyspace}.{ctx.table}", "--no-progress"
        )
        if self.processes:
            base += ["--processes", str(self.processes)]
        if self.fmt == "iceberg":
            return [*base, "--to", "iceberg", "--warehouse", str(ctx.out(self.slug)), *ctx.cb_export_args]
        return [*base, "--format", self.fmt, "--url", str(ctx.out(self.slug)), *ctx.cb_export_args]

    def files(self, ctx: Context) -> list[Path]:
        dest = ctx.out(self.slug)
        if self.fmt == "iceberg":
            return sorted(p for p in (dest).rglob("*.parquet") if "/data/" in str(p))
        return sorted(dest.glob(f"*-part-*.{self.fmt}"))

    def count(self, files: list[Path]) -> int:
        if self.fmt == "csv":
            return count_csv_rows(files)
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


# ---------------------------------------------------------------- count


class CbCount(Case):
    def command(self, ctx: Context) -> list[str]:
        return _python_cli("count", "-h", ctx.host, "--port", str(ctx.port), "-t", f"{ctx.keyspace}.{ctx.table}")

    def check(self, ctx: Context, stdout: str) -> Check:
        lines = stdout.strip().splitlines()
        try:
            rows = int(lines[-1])
        except (IndexError, ValueError):
            return Check(None, None, f"unexpected output: {stdout[-200:]!r}")
        return Check(rows, None, "" if rows == ctx.rows else f"counted {rows:,}, expected {ctx.rows:,}")


class DsbulkCount(CbCount):
    def unavailable(self, ctx: Context) -> str:
        return dsbulk_count_available()

    def command(self, ctx: Context) -> list[str]:
        return dsbulk.command(
            "count",
            *("-k", ctx.keyspace, "-t", ctx.table, "-h", ctx.host, "-port", str(ctx.port)),
            *("-logDir", str(ctx.work / "dsbulk-logs"), "--stats.modes", "global"),
        )

    def check(self, ctx: Context, stdout: str) -> Check:
        numbers = [line.strip() for line in stdout.splitlines() if line.strip().isdigit()]
        if not numbers:
            return Check(None, None, f"no count in output: {stdout[-200:]!r}")
        rows = int(numbers[-1])
        return Check(rows, None, "" if rows == ctx.rows else f"counted {rows:,}, expected {ctx.rows:,}")


# ---------------------------------------------------------------- load


class LoadCase(Case):
    """Loads the files of ``source`` (an export case) into the truncated copy table."""

    def __init__(self, source: ExportCase, **kw: Any) -> None:
        super().__init__(**kw)
        self.source = source

    def prepare(self, ctx: Context) -> None:
        ctx.session.execute(f"TRUNCATE {ctx.keyspace}.{ctx.load_table}", timeout=300)

    def check(self, ctx: Context, stdout: str) -> Check:
        size = sum(f.stat().st_size for f in self.source.files(ctx))
        rows = table_rows(ctx, ctx.load_table)
        return Check(rows, size, "" if rows == ctx.rows else f"{rows:,} rows in the table, expected {ctx.rows:,}")


class DsbulkLoad(LoadCase):
    def command(self, ctx: Context) -> list[str]:
        return dsbulk.command(
            "load",
            *("-k", ctx.keyspace, "-t", ctx.load_table, "-h", ctx.host, "-port", str(ctx.port)),
            *("-url", str(ctx.out(self.source.slug)), "-header", "true"),
            *("-logDir", str(ctx.work / "dsbulk-logs")),
        )


class CqlshCopyFrom(LoadCase):
    def command(self, ctx: Context) -> list[str]:
        src = ctx.out(self.source.slug) / "data.csv"
        return _cqlsh(ctx, f"COPY {ctx.keyspace}.{ctx.load_table} FROM '{src}' WITH HEADER = true")


class CbLoad(LoadCase):
    """``cassandra-bulk load -k KS -t TABLE --from URL --format F`` (reported unavailable until it exists)."""

    def __init__(self, fmt: str, source: ExportCase, processes: int | None = None, **kw: Any) -> None:
        super().__init__(source, **kw)
        self.fmt = fmt
        self.processes = processes

    def unavailable(self, ctx: Context) -> str:
        return cb_load_available() or (cb_processes_available() if self.processes else "")

    def command(self, ctx: Context) -> list[str]:
        return _python_cli(
            "load",
            *("-k", ctx.keyspace, "-t", ctx.load_table, "--from", str(ctx.out(self.source.slug))),
            *("--format", self.fmt, "-h", ctx.host, "--port", str(ctx.port)),
            *(["--processes", str(self.processes)] if self.processes else []),
            *ctx.cb_load_args,
        )


NATIVE_OFF = "native off"
"""The label suffix of the export cases run with ``CASSANDRA_BULK_NATIVE=0`` (the driver decodes)."""
PROCESSES = "--processes"
"""The label part of the ``--processes N`` cases (the processes table)."""


def all_cases() -> dict[str, list[Case]]:
    """The cases per operation, peers first (their medians are the ratios' denominators).

    cassandra-bulk's Parquet export and load also run with native decoding/encoding switched off, and
    both with ``--processes 1`` and ``2`` (reported unavailable, and left out of the table, while the
    CLI has no ``--processes``).
    """
    dsbulk_csv = DsbulkUnload(op="export", tool="DSBulk unload csv", family=DSBULK, slug="dsbulk-csv")
    cqlsh_csv = CqlshCopyTo(op="export", tool="cqlsh COPY TO csv", family=CQLSH, slug="cqlsh-csv")
    cb_csv = CbExport("csv", op="export", tool="cassandra-bulk csv", family=CB, slug="cb-csv")
    cb_parquet = CbExport("parquet", op="export", tool="cassandra-bulk parquet", family=CB, slug="cb-parquet")
    cb_parquet_off = CbExport(
        "parquet",
        op="export",
        tool=f"cassandra-bulk parquet, {NATIVE_OFF}",
        family=CB,
        slug="cb-parquet-driver",
        env={"CASSANDRA_BULK_NATIVE": "0"},
    )
    cb_iceberg = CbExport("iceberg", op="export", tool="cassandra-bulk iceberg", family=CB, slug="cb-iceberg")
    processes = [
        CbExport(
            "parquet",
            processes=n,
            op="export",
            tool=f"cassandra-bulk parquet {PROCESSES} {n}",
            family=CB,
            slug=f"cb-p{n}",
        )
        for n in (1, 2)
    ]
    return {
        "export": [dsbulk_csv, cqlsh_csv, cb_csv, cb_parquet, cb_parquet_off, cb_iceberg, *processes],
        "count": [
            DsbulkCount(op="count", tool="DSBulk count", family=DSBULK, slug="dsbulk-count"),
            CbCount(op="count", tool="cassandra-bulk count", family=CB, slug="cb-count"),
        ],
        "load": [
            DsbulkLoad(dsbulk_csv, op="load", tool="DSBulk load csv", family=DSBULK, slug="dsbulk-load"),
            CqlshCopyFrom(cqlsh_csv, op="load", tool="cqlsh COPY FROM csv", family=CQLSH, slug="cqlsh-load"),
            CbLoad("csv", cb_csv, op="load", tool="cassandra-bulk load csv", family=CB, slug="cb-load-csv"),
            CbLoad("parquet", cb_parquet, op="load", tool="cassandra-bulk load parquet", family=CB, slug="cb-load-pq"),
            CbLoad(
                "parquet",
                cb_parquet,
                op="load",
                tool=f"cassandra-bulk load parquet, {NATIVE_OFF}",
                family=CB,
                slug="cb-load-pq-driver",
                env={"CASSANDRA_BULK_NATIVE": "0"},
            ),
            *(
                CbLoad(
                    "parquet",
                    cb_parquet,
                    processes=n,
                    op="load",
                    tool=f"cassandra-bulk load parquet {PROCESSES} {n}",
                    family=CB,
                    slug=f"cb-load-p{n}",
                )
                for n in (1, 2)
            ),
        ],
    }
