"""``python -m bench``: fill the data sets, run every case side by side, print and save the table.

For each data set, each operation, each repetition, every tool runs once in turn (interleaved, so a
slow phase of the shared machine hits all tools alike, not one). The node is the benchmark's own
local single node on 127.0.0.11 (``tools.local_cassandra``, cluster ``bench``), never the test
clusters.

``--client-bound`` adds, to every repetition, the exports again with the node's JVM pinned to one CPU
and the client to another (``taskset``): what one client process moves per core of its own. The
node is unpinned again afterwards (and at the start of every run, should an earlier one have been
killed while pinned).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import datasets, runner
from bench.cases import (
    CB,
    CQLSH,
    PROCESSES,
    Case,
    Context,
    ExportCase,
    LoadCase,
    all_cases,
    cb_processes_available,
    native_decoding,
)
from bench.flatness import flatness
from bench.report import CLIENT_BOUND, SHARED, RunRecord, print_table, summarize
from bench.runner import run

console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
OPS = ("export", "count", "load")


def log(msg: str) -> None:
    console.print(f"[dim]{dt.datetime.now():%H:%M:%S}[/dim] {msg}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows per data set [1000000]")
    p.add_argument("--repeat", type=int, default=3, help="repetitions per case; medians are reported [3]")
    p.add_argument("--datasets", default="wide", help=f"comma separated, of {','.join(datasets.DATASETS)} [wide]")
    p.add_argument("--ops", default="export,count,load", help="comma separated, of export,count,load")
    p.add_argument("--tools", default="", help="only cases whose label contains one of these (comma separated)")
    p.add_argument("--seed", type=int, default=42, help="data generator seed [42]")
    p.add_argument("--json", type=Path, default=Path("bench/results/latest.json"), help="results file")
    p.add_argument("--work", type=Path, default=Path("bench/work"), help="exports, logs (reused between runs)")
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=18,
        help="start another repetition only if it should end within this many minutes of the start; 0: no limit [18]",
    )
    p.add_argument("--timeout", type=float, default=0, help="seconds per tool run [max(600, rows/500)]")
    p.add_argument("--cb-export-args", default="", help="extra cassandra-bulk export flags, e.g. '--streams 8'")
    p.add_argument("--cb-load-args", default="", help="extra cassandra-bulk load flags")
    p.add_argument("--flatness", action="store_true", help="also: Parquet export peak RSS at N and 4N rows")
    p.add_argument("--flatness-rows", type=int, default=0, help="N for --flatness [--rows]")
    p.add_argument("--flatness-dataset", default="wide")
    p.add_argument(
        "--client-bound",
        action="store_true",
        help="also run the exports with the node pinned to --node-cpus and the client to --client-cpus",
    )
    p.add_argument(
        "--client-bound-tools",
        default="DSBulk,cassandra-bulk",
        help="client-bound exports: labels containing one of these [DSBulk,cassandra-bulk]",
    )
    p.add_argument("--node-cpus", default="0", help="client-bound: the node's CPUs (taskset list) [0]")
    p.add_argument("--client-cpus", default="1", help="client-bound: the client's CPUs (taskset list) [1]")
    args = p.parse_args(argv)
    for name in args.datasets.split(","):
        if name not in datasets.DATASETS:
            p.error(f"unknown data set {name!r}")
    for op in args.ops.split(","):
        if op not in OPS:
            p.error(f"unknown operation {op!r}")
    return args


def machine() -> dict[str, Any]:
    """The facts a reader needs to interpret the figures."""
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    import cassandra

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cassandra_driver": cassandra.__version__,
        "java": java[0] if java else "?",
        "git_commit": commit.stdout.strip(),
        "load_average": os.getloadavg(),
    }


def warn_vector_tables(session: Any) -> None:
    """DSBulk 1.10 loses the whole schema when any table has a vector column: say so up front."""
    rows = session.execute("SELECT keyspace_name, table_name, type FROM system_schema.columns")
    bad = sorted({f"{r.keyspace_name}.{r.table_name}" for r in rows if "vector<" in r.type})
    if bad:
        log(f"[yellow]warning: vector columns in {', '.join(bad)}: DSBulk 1.10 will fail on this node[/yellow]")


def cpu_list(spec: str) -> set[int]:
    """A taskset CPU list ("0", "0-1", "0,2") as a set."""
    cpus: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


class NodePinning:
    """Pins the bench node's JVM (every thread) for the client-bound steps and unpins it after."""

    def __init__(self, pid: int | None, node_cpus: str) -> None:
        self.pid = pid
        self.node_cpus = cpu_list(node_cpus)
        self.all_cpus = set(range(os.cpu_count() or 1))
        self.pinned: bool | None = None  # unknown until the first set()
        self.seen: dict[str, str] = {}  # the node's affinity as read back in each mode

    def set(self, mode: str) -> None:
        want = mode == CLIENT_BOUND
        if self.pid is None or self.pinned == want:
            return
        got = runner.pin_threads(self.pid, self.node_cpus if want else self.all_cpus)
        self.pinned = want
        self.seen[mode] = got
        log(f"node JVM {self.pid}: threads now on CPU {got}")


def run_case(
    case: Case, ctx: Context, dataset: str, rep: int, timeout: float, mode: str = SHARED, cpus: str | None = None
) -> RunRecord:
    """Prepare, run and check one repetition of one case (in client-bound mode: on ``cpus``)."""
    rec = RunRecord(dataset, ctx.rows, case.op, case.tool, case.family, rep, "unavailable", mode=mode, cpus=cpus)
    reason = case.unavailable(ctx)
    if reason:
        rec.problem = reason
        return rec
    case.prepare(ctx)
    usage = run(case.command(ctx), timeout=timeout, env=case.env or None, cpus=cpus)
    rec.seconds, rec.cpu_seconds = usage.seconds, usage.cpu_seconds
    rec.wait4_cpu_seconds, rec.sampled_cpu_seconds = usage.wait4_cpu_seconds, usage.sampled_cpu_seconds
    rec.load_average = usage.load_average
    rec.server_cpu_seconds = usage.server_cpu_seconds
    rec.max_rss_mb, rec.tree_rss_mb = usage.max_rss_mb, usage.tree_rss_mb
    if usage.returncode != 0:
        rec.status = "failed"
        rec.problem = f"exit {usage.returncode}: {usage.output_tail.splitlines()[-1] if usage.output_tail else ''}"
        log(f"[red]{case.tool} failed[/red] (exit {usage.returncode}):\n{usage.output_tail}")
        return rec
    try:
        check = case.check(ctx, usage.stdout)
    except Exception as exc:
        rec.status, rec.problem = "mismatch", f"check failed: {exc}"
        return rec
    rec.rows_found, rec.bytes = check.rows, check.bytes
    rec.status, rec.problem = ("mismatch", check.problem) if check.problem else ("ok", "")
    if check.problem and usage.errors:  # exit 0 but rows missing: the tool's own complaint says why
        rec.problem += f" (tool said: {usage.errors[0][:160]})"
    return rec


def ensure_sources(loads: list[Case], ctx: Context, timeout: float) -> None:
    """Each load reads its peer's last export; make it (untimed) when this run did not."""
    for case in loads:
        if not isinstance(case, LoadCase) or case.unavailable(ctx):
            continue
        src: ExportCase = case.source
        if src.ready(ctx):
            continue
        log(f"  preparing the files for {case.tool}: {src.tool} (not timed)")
        src.prepare(ctx)
        usage = run(src.command(ctx), timeout=timeout)
        if usage.returncode != 0 or src.check(ctx, usage.stdout).problem:
            log(f"[red]  could not prepare {src.tool}[/red]: {usage.output_tail}")


Step = tuple[str, str, Case]  # (mode, op, case)


def plan(args: argparse.Namespace, ops: list[str], cases: dict[str, list[Case]]) -> list[Step]:
    """The steps of one repetition of one data set: every case of every operation with the node and
    client sharing the cores, then (``--client-bound``) the chosen exports pinned apart."""
    steps: list[Step] = [(SHARED, op, case) for op in ops for case in cases[op]]
    if args.client_bound and "export" in ops:
        words = [w.strip().lower() for w in args.client_bound_tools.split(",") if w.strip()]
        steps += [
            (CLIENT_BOUND, "export", c)
            for c in cases["export"]
            if any(w in c.tool.lower() for w in words) and PROCESSES not in c.tool and c.family != CQLSH
        ]
    return steps


def repetitions(
    args: argparse.Namespace,
    steps: list[Step],
    contexts: dict[str, Context],
    runs: list[RunRecord],
    started: float,
    timeout: float,
    pinning: NodePinning,
) -> int:
    """Run the repetitions, each over every data set, operation and tool; returns how many were run.

    Repetition-major order means the first repetition measures everything once, and a later one is
    started only if, at the mean pace so far, it ends within ``--budget-minutes``: ``make bench``
    keeps its time limit on a slower or busier machine, with fewer repetitions (see the runs column).
    """
    took: list[float] = []
    for rep in range(1, args.repeat + 1):
        elapsed = time.monotonic() - started
        if took and args.budget_minutes and elapsed + sum(took) / len(took) > args.budget_minutes * 60:
            log(
                f"[yellow]stopping after {rep - 1} repetition(s): another one (~{sum(took) / len(took) / 60:.1f} min) "
                f"would pass --budget-minutes {args.budget_minutes:g}[/yellow]"
            )
            return rep - 1
        rep_started = time.monotonic()
        for name, ctx in contexts.items():
            for mode, op, case in steps:
                pinning.set(mode)
                cpus = args.client_cpus if mode == CLIENT_BOUND else None
                rec = run_case(case, ctx, name, rep, timeout, mode, cpus)
                runs.append(rec)
                rate = f"{rec.rows_per_s:>10,.0f} rows/s in {rec.seconds:6.1f}s" if rec.seconds else ""
                cores = f", client {rec.client_cores:.2f} cores" if rec.client_cores is not None else ""
                flag = "" if rec.status == "ok" else f" [yellow]{rec.status}: {rec.problem}[/yellow]"
                where = "pinned " if mode == CLIENT_BOUND else ""
                log(f"{name:8} {where}{op:6} {case.tool:36} #{rep} {rate}{cores}{flag}")
        pinning.set(SHARED)
        took.append(time.monotonic() - rep_started)
        log(f"repetition {rep} took {took[-1] / 60:.1f} min")
    return args.repeat


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    timeout = args.timeout or max(600.0, args.rows / 500)
    from cassandra_bulk_core import ConnectionConfig
    from tools.local_cassandra import acquire

    # Its own node (127.0.0.11): the demo's table on 127.0.0.1 has a vector column, which DSBulk 1.10
    # cannot parse (it then loses the whole schema), and the benchmark should not share its node anyway.
    target = acquire(name="bench", nodes=1, base_address=11, keep_running=True)
    from tools.local_cassandra.cluster import LocalCluster

    try:
        runner.SERVER_PID = LocalCluster.from_state("bench").node_list[0].pid()
    except Exception:  # an existing cluster (env) or Docker: no local JVM to measure
        runner.SERVER_PID = None
    host, port = target.contact_points[0], 9042
    cluster, session = ConnectionConfig(contact_points=(host,), port=port, request_timeout=300).connect()
    warn_vector_tables(session)
    meta: dict[str, Any] = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(),
        "args": vars(args),
        "machine": machine(),
    }
    log(f"node {host}:{port}; {meta['machine']['cpus']} CPUs; load average {meta['machine']['load_average']}")
    pinning = NodePinning(runner.SERVER_PID, args.node_cpus)
    if args.client_bound:
        if runner.SERVER_PID is None or shutil.which("taskset") is None:
            cluster.shutdown()
            raise SystemExit("--client-bound needs the bench's own local node (a JVM pid to pin) and taskset")
        overlap = cpu_list(args.node_cpus) & cpu_list(args.client_cpus)
        if overlap:
            cluster.shutdown()
            raise SystemExit(f"--node-cpus and --client-cpus share CPU(s) {sorted(overlap)}")
    pinning.set(SHARED)  # an earlier run may have been killed while the node was pinned
    ops = args.ops.split(",")
    wanted = [t.strip().lower() for t in args.tools.split(",") if t.strip()]
    processes = cb_processes_available()
    cases = {
        op: [
            c
            for c in cs
            if (not wanted or any(w in c.tool.lower() for w in wanted)) and not (processes and PROCESSES in c.tool)
        ]
        for op, cs in all_cases().items()
    }
    meta["native_decoding"] = native_decoding()
    meta["processes_table"] = processes or "yes"
    if processes:
        log(f"no processes table: {processes}")
    if args.client_bound:
        meta["client_bound"] = {"node_cpus": args.node_cpus, "client_cpus": args.client_cpus}
    log(f"cassandra-bulk native page decoding: {meta['native_decoding']}")
    runs: list[RunRecord] = []
    fills: dict[str, Any] = {}
    contexts: dict[str, Context] = {}
    try:
        for name in args.datasets.split(","):
            ds = datasets.DATASETS[name]
            fills[name] = datasets.ensure(session, ds, args.rows, args.seed, log)
            table = ds.table(args.rows)
            datasets.create(session, ds, f"{table}_load")
            contexts[name] = ctx = Context(
                host,
                port,
                datasets.KEYSPACE,
                table,
                f"{table}_load",
                args.rows,
                args.work / table,
                session,
                tuple(shlex.split(args.cb_export_args)),
                tuple(shlex.split(args.cb_load_args)),
            )
            ctx.work.mkdir(parents=True, exist_ok=True)
            if "load" in ops and "export" not in ops:
                ensure_sources(cases["load"], ctx, timeout)
        steps = plan(args, ops, cases)
        meta["repetitions_done"] = repetitions(args, steps, contexts, runs, started, timeout, pinning)
        flat = flatness(session, host, port, args, timeout, log) if args.flatness else None
    finally:
        pinning.set(SHARED)
        cluster.shutdown()
    if pinning.seen:
        meta.setdefault("client_bound", {})["node_affinity_seen"] = pinning.seen
    summary = summarize(runs)
    print_table(summary, console, args.node_cpus)
    if flat:
        console.print(
            f"memory flatness ({flat['tool']}, {flat['dataset']}): peak RSS {flat['small_rss_mb']:.0f} MB at "
            f"{flat['small_rows']:,} rows, {flat['large_rss_mb']:.0f} MB at {flat['large_rows']:,} rows: "
            f"ratio {flat['ratio']:.2f} (largest process: {flat['small_max_process_rss_mb']:.0f} and "
            f"{flat['large_max_process_rss_mb']:.0f} MB, ratio {flat['max_process_ratio']:.2f})"
        )
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["load_average_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    out = {"meta": meta, "datasets": fills, "summary": summary, "flatness": flat, "runs": [r.to_dict() for r in runs]}
    args.json.write_text(json.dumps(out, indent=2, default=str))
    log(f"results in {args.json}; total {meta['seconds'] / 60:.1f} min")
    bad = [r for r in summary if r["check"] in ("FAILED", "MISMATCH")]
    if bad:
        log(f"[yellow]{len(bad)} case(s) failed or mismatched; see the check column[/yellow]")
    # A peer's shortcoming (cqlsh cannot load UDTs, say) is a finding; only our own failures fail the run.
    return 1 if any(r["check"] in ("FAILED", "MISMATCH") and r["family"] == CB for r in summary) else 0
