"""Run one tool as a child process and measure it the same way whatever the tool is.

Wall time from the parent; CPU (user + sys) from ``os.wait4``, which on Linux includes every
descendant the child itself waited for (cqlsh's worker processes, the JVM's threads), cross-checked
against the CPU time of every process of the tree sampled with psutil (the larger of the two counts,
so a descendant nobody waited for is not lost); peak memory two ways: ``ru_maxrss`` (the largest
single process of the tree) and the peak of the summed RSS of the whole tree, sampled every 100 ms
(what a multi-process tool really holds). CPU time, unlike wall time, is what the client itself
spent, so it stays meaningful on a shared, noisy machine.

The client-bound mode pins the node's JVM (every thread: ``taskset -a -p``) and the client (``taskset
-c``) to disjoint CPUs; :func:`pin_threads` and :func:`affinity` do the former.
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
    wait4_cpu_seconds: float = 0.0  # the two sources of ``cpu_seconds`` (the larger is used)
    sampled_cpu_seconds: float = 0.0
    load_average: float | None = None  # 1-minute load average when the run started


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


def _tree_sample(pid: int, cpu: dict[int, float]) -> int:
    """The summed RSS of the tree under ``pid``; records each process's own CPU time in ``cpu``."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error), p.oneshot():
            total += p.memory_info().rss
            t = p.cpu_times()
            cpu[p.pid] = max(cpu.get(p.pid, 0.0), t.user + t.system)
    return total


def affinity(pid: int) -> str:
    """The CPUs the threads of ``pid`` may run on, e.g. ``"0"`` or ``"0-1"`` (several: ``"0-1,0"``)."""
    lists: set[str] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("Cpus_allowed_list:"):
                    lists.add(line.split(":", 1)[1].strip())
    return ",".join(sorted(lists))


def pin_threads(pid: int, cpus: set[int]) -> str:
    """Pin every thread of ``pid`` to ``cpus`` (what ``taskset -a -p -c`` does, but a thread that
    exits meanwhile is not an error); threads created later inherit it from their creator.
    Returns the resulting :func:`affinity`."""
    for _ in range(3):  # a thread started during the pass may have copied the old mask
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(ProcessLookupError, FileNotFoundError):
                os.sched_setaffinity(int(task.name), cpus)
        got = affinity(pid)
        if "," not in got:
            return got
    return affinity(pid)


def run(
    cmd: Sequence[str],
    *,
    timeout: float = 3600,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    cpus: str | None = None,
) -> Usage:
    """Run ``cmd`` to completion (killed with its process group after ``timeout`` s) and measure it.

    ``env``: extra environment variables; ``cpus``: run it under ``taskset -c cpus``.
    """
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]  # taskset execs the command: same pid, nothing in between
    full_env = {**os.environ, **env} if env else None
    load = os.getloadavg()[0]
    server_before = _cpu(SERVER_PID)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=full_env, start_new_session=True
        )
        peak = 0
        cpu_seen: dict[int, float] = {}
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.1):
                peak = max(peak, _tree_sample(proc.pid, cpu_seen))

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
    waited = usage.ru_utime + usage.ru_stime
    sampled = sum(cpu_seen.values())  # misses each process's last 100 ms: a floor, not the figure
    return Usage(
        seconds=seconds,
        cpu_seconds=max(waited, sampled),
        max_rss_mb=usage.ru_maxrss / 1024,
        tree_rss_mb=max(peak, usage.ru_maxrss * 1024) / 2**20,
        returncode=proc.returncode,
        stdout=stdout,
        output_tail=tail,
        errors=errors,
        server_cpu_seconds=server_after - server_before
        if server_before is not None and server_after is not None
        else None,
        wait4_cpu_seconds=waited,
        sampled_cpu_seconds=sampled,
        load_average=load,
    )
