"""Screenshots of the examples as users see them: Airflow's connection form and mapped ranges, Dagster's
partitions and materialization metadata, taken by a headless browser into ``docs/img/``.

    uv run python tools/screenshots.py --host 127.0.0.1 --table demo.events   # after `make demo`

It starts what it shows, in throw-away homes: Airflow's api-server, scheduler and dag-processor
(LocalExecutor, SQLite) on 127.0.0.71 with the examples' dags folder, triggers
``cassandra_to_iceberg`` and waits for it; then ``dg dev`` on ``examples/dagster`` on 127.0.0.72,
backfills every range partition and waits. The browser is Debian's ``chromium`` (installed with
apt-get when missing and run as root), driven by Playwright from PyPI, installed into
``~/.cache/cassandra-bulk/screenshots-venv`` on first use (the project's environment stays as is).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("CASSANDRA_BULK_CACHE", Path.home() / ".cache" / "cassandra-bulk"))
SHOTS_VENV = CACHE / "screenshots-venv"
AIRFLOW_HOST, DAGSTER_HOST = "127.0.0.71", "127.0.0.72"
VIEWPORT = {"width": 1440, "height": 900}


class Failed(Exception):
    """One line for the user."""


# -- what the browser needs ---------------------------------------------------------------------


def browser() -> str:
    """Path of a Chromium; Debian's package is installed when none is found and we may."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Failed("no chromium found: install it (Debian/Ubuntu: apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env, check=True)
    if found := shutil.which("chromium"):
        return found
    raise Failed("apt-get installed chromium but it is not on PATH")


def playwright_python() -> Path:
    """A Python with Playwright (its own venv under the cache; no browser download, Debian's is used)."""
    python = SHOTS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["uv", "venv", "-q", str(SHOTS_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import playwright"], capture_output=True)
    if probe.returncode != 0:
        env = {**os.environ, "VIRTUAL_ENV": str(SHOTS_VENV)}
        subprocess.run(["uv", "pip", "install", "-q", "playwright>=1.40"], env=env, check=True)
    return python


def capture(spec: dict[str, Any]) -> None:
    """Run ``spec`` (see :func:`_capture_main`) in the Playwright venv."""
    res = subprocess.run(
        [str(playwright_python()), __file__, "--capture", json.dumps(spec)], capture_output=True, text=True
    )
    if res.returncode != 0:
        raise Failed(f"browser: {(res.stderr.strip().splitlines() or ['failed'])[-1]}")
    print(res.stdout.strip())


def _capture_main(spec: dict[str, Any]) -> None:
    """In the Playwright venv: open each page (or stay on the last one), do its steps (see
    :func:`_step`), save a PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path=spec["browser"], args=["--no-sandbox"])
        page = chrome.new_page(viewport=VIEWPORT, device_scale_factor=1)
        for shot in spec["shots"]:
            page.set_viewport_size(shot.get("viewport", VIEWPORT))
            if shot.get("url"):  # else: go on from the previous shot's page
                page.goto(shot["url"], wait_until="networkidle", timeout=120_000)
            for kind, arg in shot.get("steps", []):
                _step(page, kind, arg)
            page.wait_for_timeout(1500)
            page.screenshot(path=shot["path"])
            print(f"wrote {shot['path']}")
        chrome.close()


def _step(page: Any, kind: str, arg: Any) -> None:
    if kind == "button":  # a button by its accessible name
        page.get_by_role("button", name=arg).first.click(timeout=60_000)
    elif kind == "click":  # [css, text the element has]
        page.locator(arg[0], has_text=arg[1]).first.click(timeout=60_000)
    elif kind == "fill":  # [css, text]
        page.locator(arg[0]).first.fill(arg[1], timeout=60_000)
    elif kind == "type":
        page.keyboard.type(arg)
    elif kind == "press":
        page.keyboard.press(arg)
    elif kind == "wait":  # visible text
        page.get_by_text(arg).first.wait_for(timeout=120_000)
    elif kind == "sleep":
        page.wait_for_timeout(float(arg) * 1000)
    else:
        raise ValueError(f"unknown step {kind!r}")


# -- services ---------------------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def services(commands: dict[str, list[str]], env: dict[str, str], cwd: Path, logs: Path) -> Iterator[None]:
    """Start each command in its own process group; stop them all on the way out."""
    procs = []
    try:
        for name, cmd in commands.items():
            with open(logs / f"{name}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_for(ready: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := ready():
                return value
        except OSError:
            pass
        time.sleep(2)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")


def http(method: str, url: str, body: Any = None, token: str = "") -> Any:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


# -- Airflow ----------------------------------------------------------------------------------------


def airflow_shots(args: argparse.Namespace, work: Path, chrome: str) -> None:
    home, port = work / "airflow", free_port(AIRFLOW_HOST)
    home.mkdir()
    base = f"http://{AIRFLOW_HOST}:{port}"
    conn = {"conn_type": "cassandra_bulk", "host": args.host, "port": args.port}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "examples" / "airflow"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{base}/execution/",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__API__BASE_URL=base,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT=json.dumps(conn),
        CASSANDRA_BULK_EXAMPLE_TABLE=args.table,
        CASSANDRA_BULK_EXAMPLE_WAREHOUSE=str(work / "airflow-warehouse"),
        CASSANDRA_BULK_EXAMPLE_SPLITS=str(args.splits),
    )
    airflow = str(BIN / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, check=True)
    with sqlite3.connect(home / "airflow.db") as db:
        db.execute("PRAGMA journal_mode=WAL")
    commands = {
        "api-server": [airflow, "api-server", "--host", AIRFLOW_HOST, "--port", str(port)],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
    }
    with services(commands, env, REPO, home):
        wait_for(lambda: http("GET", f"{base}/api/v2/monitor/health"), 180, "the Airflow API server")
        token = http("GET", f"{base}/auth/token")["access_token"]
        dag = "cassandra_to_iceberg"
        wait_for(lambda: http("GET", f"{base}/api/v2/dags/{dag}", token=token), 180, f"the DAG {dag}")
        http("PATCH", f"{base}/api/v2/dags/{dag}", {"is_paused": False}, token)
        run_id = http("POST", f"{base}/api/v2/dags/{dag}/dagRuns", {"logical_date": None}, token)["dag_run_id"]

        def finished() -> str | None:
            state = http("GET", f"{base}/api/v2/dags/{dag}/dagRuns/{run_id}", token=token)["state"]
            return state if state in ("success", "failed") else None

        print(f"airflow: {dag} {wait_for(finished, 600, f'run {run_id}')}")
        out = args.out
        capture(
            {
                "browser": chrome,
                "shots": [
                    {
                        "url": f"{base}/dags/{dag}/runs/{run_id}/tasks/export_range/mapped",
                        "path": str(out / "airflow-mapped-ranges.png"),
                        "steps": [["wait", f"r0-of-{args.splits}"]],
                    },
                    {
                        "url": f"{base}/dags/{dag}",
                        "path": str(out / "airflow-grid.png"),
                        "steps": [["wait", "export_range"]],
                    },
                    {
                        "url": f"{base}/connections",
                        "path": str(out / "airflow-connection-form.png"),
                        "steps": [
                            ["button", "Add Connection"],
                            ["fill", ["[role='dialog'] input[name='connection_id']", "cassandra_bulk_default"]],
                            ["click", ["[role='dialog'] input[role='combobox']", ""]],
                            ["type", "Cassandra Bulk"],
                            ["sleep", 1],
                            ["press", "Enter"],
                            ["wait", "Contact points"],
                        ],
                    },
                    {  # the same dialog: the extras declared in provider info
                        "path": str(out / "airflow-connection-extras.png"),
                        "viewport": {"width": 1440, "height": 2100},
                        "steps": [
                            ["click", ["[role='dialog'] button", "Standard Fields"]],
                            ["click", ["[role='dialog'] button", "Extra Fields"]],
                            ["wait", "Local datacenter"],
                        ],
                    },
                ],
            }
        )


# -- Dagster ----------------------------------------------------------------------------------------

BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }"""
STATUS = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }"""


def dagster_shots(args: argparse.Namespace, work: Path, chrome: str) -> None:
    home, port = work / "dagster", free_port(DAGSTER_HOST)
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "concurrency:\n  runs:\n    max_concurrent_runs: 2\ntelemetry:\n  enabled: false\n"
    )
    keyspace, table = args.table.split(".")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "ICEBERG_"))}
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_DISABLE_TELEMETRY="1",
        CASSANDRA_CONTACT_POINTS=args.host,
        CASSANDRA_PORT=str(args.port),
        CASSANDRA_KEYSPACE=keyspace,
        CASSANDRA_BULK_RANGES_PER_RUN="4",
        ICEBERG_WAREHOUSE=str(work / "dagster-warehouse"),
    )
    base = f"http://{DAGSTER_HOST}:{port}"
    commands = {"dg-dev": [str(BIN / "dg"), "dev", "--host", DAGSTER_HOST, "--port", str(port)]}

    def gql(query: str, **variables: Any) -> Any:
        return http("POST", f"{base}/graphql", {"query": query, "variables": variables})["data"]

    with services(commands, env, REPO / "examples" / "dagster", home):
        wait_for(lambda: gql("{ version }"), 240, "dg dev")
        key = {"path": [keyspace, table]}
        time.sleep(10)  # the code location loads after the webserver answers
        launched = wait_for(
            lambda: gql(BACKFILL, p={"assetSelection": [key], "allPartitions": True})["launchPartitionBackfill"],
            120,
            "the backfill to launch",
        )
        if "backfillId" not in launched:
            raise Failed(f"dagster: backfill not launched: {launched.get('message', launched['__typename'])}")

        def done() -> str | None:
            status = gql(STATUS, id=launched["backfillId"])["partitionBackfillOrError"]["status"]
            return status if status.startswith(("COMPLETED", "FAILED", "CANCELED")) else None

        print(f"dagster: backfill {wait_for(done, 900, 'the backfill')}")
        asset = f"{base}/assets/{keyspace}/{table}"
        capture(
            {
                "browser": chrome,
                "shots": [
                    {
                        "url": f"{asset}?view=partitions",
                        "path": str(args.out / "dagster-partitions.png"),
                        "steps": [["wait", "r00-of-16"]],
                    },
                    {
                        "url": f"{asset}?view=events",
                        "path": str(args.out / "dagster-metadata.png"),
                        "viewport": {"width": 1440, "height": 1400},
                        "steps": [["sleep", 3]],
                    },
                ],
            }
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help="a Cassandra contact point [127.0.0.1]")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--table", default="demo.events", help="keyspace.table, filled [demo.events]")
    parser.add_argument("--splits", type=int, default=8, help="ranges of the Airflow run [8]")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--only", choices=("airflow", "dagster"))
    args = parser.parse_args(argv)
    if args.capture:
        _capture_main(json.loads(args.capture))
        return 0
    try:
        chrome = browser()
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cb-screenshots-") as tmp:
            if args.only in (None, "airflow"):
                airflow_shots(args, Path(tmp), chrome)
            if args.only in (None, "dagster"):
                dagster_shots(args, Path(tmp), chrome)
    except (Failed, subprocess.CalledProcessError) as exc:
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
