"""Run one tool as a child process and measure it the same way whatever the tool is.

Wall time from the parent; CPU (user + sys) from ``os.wait4``, which on Linux includes every
descendant the child itself waited for (cqlsh's worker processes, the JVM's threads); peak memory
two ways: ``ru_maxrss`` (the largest single process of the tree) and the peak of the summed RSS of
the whole tree, sampled every 100 ms with psutil (what a multi-process tool really holds).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

ERROR_LINE = re.compile(r"Error\b|Exception\b|\bfailed\b|\bERROR\b")


@dataclass
class Usage:
    """What one child run cost. ``returncode`` != 0 means the run failed (``output`` has the tail)."""

    seconds: float
    cpu_seconds: float
    max_rss_mb: float  # largest single process (kernel)
    tree_rss_mb: float  # peak of the summed RSS of the process tree (sampled)
    returncode: int
    stdout: str
    output_tail: str  # last lines of stdout + stderr, for error messages
    errors: list[str]  # the first distinct lines that look like errors (a tool may exit 0 and still fail rows)
    server_cpu_seconds: float | None = None  # the Cassandra node's CPU during the run (SERVER_PID)


SERVER_PID: int | None = None
"""The local node's JVM: its CPU time is read before and after each run, so the table can say
whether a figure was bound by the client or by the server (they share the same cores)."""


def _cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(t.user + t.system)


def _tree_rss(pid: int) -> int:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run(
    cmd: Sequence[str], *, timeout: float = 3600, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Usage:
    """Run ``cmd`` to completion (killed with its process group after ``timeout`` s) and measure it."""
    server_before = _cpu(SERVER_PID)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, _tree_rss(proc.pid))

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            done.set()
            sampler.join()
        seconds = time.monotonic() - started
        server_after = _cpu(SERVER_PID)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    lines = [ln for ln in re.split(r"[\r\n]+", stdout + "\n" + stderr) if ln.strip()]
    tail = "\n".join(lines[-15:])
    errors = list(dict.fromkeys(ln.strip() for ln in lines if ERROR_LINE.search(ln)))[:3]
    return Usage(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,
        tree_rss_mb=max(peak, usage.ru_maxrss * 1024) / 2**20,
        returncode=proc.returncode,
        stdout=stdout,
        output_tail=tail,
        errors=errors,
        server_cpu_seconds=server_after - server_before
        if server_before is not None and server_after is not None
        else None,
    )
