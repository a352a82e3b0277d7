"""The example DAG as a deployment runs it: API server, scheduler and DAG processor, LocalExecutor.

``airflow dags test`` (the other tests) runs a DAG in one process; this one starts the three Airflow 3
services as the examples' README tells users (their own ``AIRFLOW_HOME`` with SQLite, the dags folder
= ``examples/airflow``, the connection from ``AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT``) and drives them
through the REST API only: unpause, trigger, poll, clear one map index. It checks what a platform team
looks at: mapped ranges ran side by side, each range named by its id, Iceberg holds exactly
Cassandra's rows (before and after the re-run), the re-run committed only its range, and the connection
form the UI gets from ``/ui/connections/hook_meta`` carries the provider's fields.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import EXAMPLES, ROWS, connection_json, iceberg_table

HOST = "127.0.0.71"
DAG_ID = "cassandra_to_iceberg"
SPLITS = 4
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
RUN_TIMEOUT = 300.0  # a failure bound, not the expected time (about a minute on a quiet 2-core host)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Api:
    """A small client for Airflow's public REST API (``/api/v2``) and the UI's ``/ui`` routes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token = ""

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None

    def login(self) -> None:
        """``[core] simple_auth_manager_all_admins``: ``GET /auth/token`` hands out an admin JWT."""
        self.token = self.call("GET", "/auth/token")["access_token"]


class Deployment:
    """The three services in their own process groups, with their logs in ``home``."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"airflow {name} exited ({proc.returncode}):\n{self.tail(name)}"

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.tail(name, 1500)}" for name in self.procs)

    def stop(self) -> None:
        """SIGTERM each service's process group (the scheduler's LocalExecutor workers with it)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def deployment(cassandra: Any, kv: str, tmp_path: Path) -> Iterator[tuple[Api, Deployment, str]]:
    """``airflow db migrate`` then api-server (on 127.0.0.71), scheduler and dag-processor; yields the
    logged-in API client, the services and the Iceberg warehouse the example writes to."""
    home, warehouse, port = tmp_path / "airflow", tmp_path / "warehouse", _free_port()
    home.mkdir()
    base = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLES),  # as the README says; .airflowignore skips demo.py
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{base}/execution/",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__API__HOST=HOST,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=base,
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT=connection_json(cassandra),
        CASSANDRA_BULK_EXAMPLE_TABLE=kv,
        CASSANDRA_BULK_EXAMPLE_WAREHOUSE=str(warehouse),
        CASSANDRA_BULK_EXAMPLE_SPLITS=str(SPLITS),
    )
    started = time.monotonic()
    res = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    # Readers no longer wait for the scheduler's and the tasks' writes (WAL is kept in the file).
    with sqlite3.connect(home / "airflow.db") as db:
        assert db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    services = Deployment(home, env)
    try:
        services.start("api-server", "api-server", "--host", HOST, "--port", str(port))
        services.start("scheduler", "scheduler")
        services.start("dag-processor", "dag-processor")
        api = Api(base)
        _wait(lambda: _healthy(api), 120, "the API server to answer", services)
        api.login()
        print(f"airflow db migrate + services up: {time.monotonic() - started:.0f} s")
        yield api, services, str(warehouse)
    finally:
        services.stop()


def _healthy(api: Api) -> bool:
    try:
        api.call("GET", "/api/v2/monitor/health")
        return True
    except (AssertionError, OSError):
        return False


def _wait(ready: Any, timeout: float, what: str, services: Deployment) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.check_alive()
        value = ready()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{services.logs()}")


def _run_state(api: Api, run_id: str) -> str | None:
    try:
        state = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")["state"]
    except TimeoutError:  # a busy API server on a busy host: ask again
        return None
    return state if state in ("success", "failed") else None


def _mapped(api: Api, run_id: str) -> list[dict[str, Any]]:
    body = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/export_range/listMapped?limit=100")
    return sorted(body["task_instances"], key=lambda ti: ti["map_index"])


def _try_number(api: Api, run_id: str, map_index: int) -> int | None:
    try:
        return int(_mapped(api, run_id)[map_index]["try_number"])
    except TimeoutError:
        return None


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _overlapping(tis: list[dict[str, Any]]) -> bool:
    """Did any two mapped instances run at the same time?"""
    spans = sorted((_when(ti["start_date"]), _when(ti["end_date"])) for ti in tis)
    return any(later_start < end for (_, end), (later_start, _) in itertools.pairwise(spans))


def _iceberg_rows(warehouse: str, table: str) -> list[tuple[Any, ...]]:
    data = iceberg_table(warehouse, table).scan(selected_fields=("k", "v", "n")).to_arrow()
    return sorted(zip(*(data.column(c).to_pylist() for c in ("k", "v", "n")), strict=True))


def _cassandra_rows(session: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted((r.k, r.v, r.n) for r in session.execute(f"SELECT k, v, n FROM {table}"))


@pytest.mark.slow
@pytest.mark.timeout(600)  # services start, run and stop; ~2-4 min on a 2-core host
def test_example_dag_on_the_real_scheduler(deployment: tuple[Api, Deployment, str], kv: str, session: Any) -> None:
    api, services, warehouse = deployment

    # The connection form: the API server builds it from provider info, without importing the hook.
    meta = {m["connection_type"]: m for m in api.call("GET", "/ui/connections/hook_meta")}
    from airflow_provider_cassandra_bulk.connection_form import DESCRIPTIONS, EXTRA_FIELDS, UI_FIELD_BEHAVIOUR

    form = meta["cassandra_bulk"]
    assert form["hook_name"] == "Cassandra Bulk"
    assert set(form["extra_fields"]) == set(EXTRA_FIELDS)
    assert {k: f["schema"]["title"] for k, f in form["extra_fields"].items()} == EXTRA_FIELDS
    assert form["extra_fields"]["local_dc"]["description"] == DESCRIPTIONS["local_dc"]
    assert form["extra_fields"]["ssl_key_password"]["schema"]["format"] == "password"
    assert form["standard_fields"]["host"]["title"] == UI_FIELD_BEHAVIOUR["relabeling"]["host"]
    assert form["standard_fields"]["url_schema"]["title"] == UI_FIELD_BEHAVIOUR["relabeling"]["schema"]
    assert form["standard_fields"]["host"]["placeholder"] == UI_FIELD_BEHAVIOUR["placeholders"]["host"]

    # The DAG processor parses examples/airflow; unpause and trigger as a user would.
    started = time.monotonic()
    _wait(lambda: _dag_parsed(api), 120, f"the DAG processor to serialize {DAG_ID}", services)
    api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    run_id = api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None})["dag_run_id"]
    print(f"DAG parsed: {time.monotonic() - started:.0f} s")
    state = _wait(lambda: _run_state(api, run_id), RUN_TIMEOUT, f"run {run_id}", services)
    print(f"first run done: {time.monotonic() - started:.0f} s")
    first = _mapped(api, run_id)
    assert state == "success", (first, services.logs())

    # One mapped instance per range, named by its range id, each in one try (no retry hid a race),
    # at least two of them running at the same time.
    assert [ti["map_index"] for ti in first] == list(range(SPLITS))
    assert [ti["rendered_map_index"] for ti in first] == [f"r{i}-of-{SPLITS}" for i in range(SPLITS)]
    assert {ti["state"] for ti in first} == {"success"}
    assert [ti["try_number"] for ti in first] == [1] * SPLITS
    assert _overlapping(first), [(ti["start_date"], ti["end_date"]) for ti in first]

    expected = _cassandra_rows(session, kv)
    assert len(expected) == ROWS
    assert _iceberg_rows(warehouse, kv) == expected
    snapshots_before = {s.snapshot_id for s in iceberg_table(warehouse, kv).snapshots()}

    # Clear one map index (and verify after it) through the REST API: only that range runs again.
    cleared = 2
    api.call(
        "POST",
        f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
        {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [["export_range", cleared]],
            "only_failed": False,
            "include_downstream": True,
        },
    )
    _wait(lambda: _try_number(api, run_id, cleared) == 2, 60, "the cleared instance to restart", services)
    state = _wait(lambda: _run_state(api, run_id), RUN_TIMEOUT, f"run {run_id} after the clear", services)
    print(f"cleared range re-run: {time.monotonic() - started:.0f} s")
    second = _mapped(api, run_id)
    assert state == "success", (second, services.logs())
    assert [ti["try_number"] for ti in second] == [2 if i == cleared else 1 for i in range(SPLITS)]
    assert _when(second[cleared]["start_date"]) > _when(first[cleared]["end_date"])
    assert [ti["start_date"] for i, ti in enumerate(second) if i != cleared] == [
        ti["start_date"] for i, ti in enumerate(first) if i != cleared
    ]

    table = iceberg_table(warehouse, kv)
    new = [s for s in table.snapshots() if s.snapshot_id not in snapshots_before]
    assert new, "the cleared range committed nothing"
    assert {s.summary["cassandra-bulk.ranges"] for s in new} == {f"r{cleared}-of-{SPLITS}"}
    assert _iceberg_rows(warehouse, kv) == expected


def _dag_parsed(api: Api) -> bool:
    body = api.call("GET", f"/api/v2/dags?dag_id_pattern={DAG_ID}")
    return any(d["dag_id"] == DAG_ID for d in body["dags"])
