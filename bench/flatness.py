"""Memory flatness of export: cassandra-bulk's Parquet export at N and 4N rows, peak RSS compared.

A streaming exporter holds a bounded number of pages and row groups whatever the table size, so the
ratio should stay near 1.0 (the issue's bar: within 10%). It is measured on the sum of the process
tree's RSS, sampled, and the median over ``--repeat`` runs; the largest single process's peak
(``ru_maxrss``) is kept beside it, for a multi-process export.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
from collections.abc import Callable
from typing import Any

from bench import datasets
from bench.cases import CB, CbExport, Context
from bench.runner import run


def flatness(
    session: Any, host: str, port: int, args: argparse.Namespace, timeout: float, log: Callable[[str], None]
) -> dict[str, Any]:
    """Fill (or reuse) the data set at N and 4N rows and compare the exporter's peak RSS."""
    ds = datasets.DATASETS[args.flatness_dataset]
    small = args.flatness_rows or args.rows
    case = CbExport("parquet", op="export", tool="cassandra-bulk parquet", family=CB, slug="flat-parquet")
    peaks: dict[int, float] = {}
    largest: dict[int, float] = {}
    for n in (small, 4 * small):
        datasets.ensure(session, ds, n, args.seed, log)
        table = ds.table(n)
        ctx = Context(host, port, datasets.KEYSPACE, table, table, n, args.work / table, session)
        ctx.cb_export_args = tuple(shlex.split(args.cb_export_args))
        samples, singles = [], []
        for rep in range(1, args.repeat + 1):
            case.prepare(ctx)
            usage = run(case.command(ctx), timeout=max(timeout, n / 500))
            check = case.check(ctx, usage.stdout) if usage.returncode == 0 else None
            if usage.returncode != 0 or check is None or check.problem:
                raise SystemExit(f"flatness export of {table} failed: {usage.output_tail}")
            samples.append(usage.tree_rss_mb)
            singles.append(usage.max_rss_mb)
            log(f"flatness {table} #{rep}: peak RSS {usage.tree_rss_mb:.0f} MB, {n / usage.seconds:,.0f} rows/s")
        peaks[n] = statistics.median(samples)
        largest[n] = statistics.median(singles)
    return {
        "tool": case.tool,
        "dataset": ds.name,
        "small_rows": small,
        "large_rows": 4 * small,
        "small_rss_mb": peaks[small],
        "large_rss_mb": peaks[4 * small],
        "ratio": peaks[4 * small] / peaks[small],
        "small_max_process_rss_mb": largest[small],
        "large_max_process_rss_mb": largest[4 * small],
        "max_process_ratio": largest[4 * small] / largest[small],
    }
