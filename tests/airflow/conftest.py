"""Airflow isolation for these tests: a throw-away AIRFLOW_HOME with its own SQLite metadata DB.

Airflow reads its configuration when first imported, so the environment is set here, at conftest
import (before any test module imports airflow), and the directory is removed at session end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="cb-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
(_HOME / "dags").mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_HOME / "dags")

CONN_ENV = "AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT"


@pytest.fixture(scope="session", autouse=True)
def _airflow_home() -> Iterator[Path]:
    yield _HOME
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db(_airflow_home: Path) -> Path:
    """``airflow db migrate`` once, in a subprocess (same environment)."""
    airflow = Path(sys.executable).with_name("airflow")
    res = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return _airflow_home / "airflow.db"


def connection_json(target: Any, **extra: Any) -> str:
    """The JSON form of an Airflow connection to a test node (``AIRFLOW_CONN_<ID>``)."""
    doc: dict[str, Any] = {
        "conn_type": "cassandra_bulk",
        "host": ",".join(target.contact_points),
        "port": target.port,
        "extra": {"local_dc": target.local_dc, **extra} if target.local_dc else dict(extra),
    }
    if target.username:
        doc["login"] = target.username
        doc["password"] = target.password
    return json.dumps(doc)


@pytest.fixture
def airflow_conn(cassandra: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cassandra_bulk_default`` points at the test node (through the environment, as in production)."""
    monkeypatch.setenv(CONN_ENV, connection_json(cassandra))
    return cassandra


# -- shared by the integration tests ---------------------------------------------------------------

SECRET = "Sup3r-Secret-Pa55word"
ROWS = 3000
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "airflow"


@pytest.fixture
def secret_conn(cassandra: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The connection carries credentials; the test node has no auth, so made-up ones are accepted
    (the driver only warns) and let us check that the password never escapes."""
    if cassandra.username:
        secret = cassandra.password
        monkeypatch.setenv(CONN_ENV, connection_json(cassandra))
    else:
        secret = SECRET
        doc = json.loads(connection_json(cassandra))
        doc.update(login="cb_user", password=SECRET)
        monkeypatch.setenv(CONN_ENV, json.dumps(doc))
    return str(secret)


@pytest.fixture
def kv(session: Any, keyspace: str) -> str:
    """``<keyspace>.kv``: ROWS rows of (int key, text, bigint), spread over the whole ring."""
    from cassandra.concurrent import execute_concurrent_with_args

    session.execute(f"CREATE TABLE {keyspace}.kv (k int PRIMARY KEY, v text, n bigint)")
    insert = session.prepare(f"INSERT INTO {keyspace}.kv (k, v, n) VALUES (?, ?, ?)")
    execute_concurrent_with_args(session, insert, [(k, f"v{k}", k * 7) for k in range(ROWS)], concurrency=64)
    return f"{keyspace}.kv"


def load_example(name: str, monkeypatch: pytest.MonkeyPatch, *, table: str, warehouse: str, splits: int) -> Any:
    """Copy an example DAG file into the dags folder (``dag.test()`` syncs that bundle to the DB)
    and import it with the example's environment settings pointing at the test table."""
    import importlib.util

    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_TABLE", table)
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", warehouse)
    monkeypatch.setenv("CASSANDRA_BULK_EXAMPLE_SPLITS", str(splits))
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{name}.py"
    shutil.copy(EXAMPLES / f"{name}.py", dag_file)
    spec = importlib.util.spec_from_file_location(f"cb_example_{name}", dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def task_instances(run: Any) -> dict[tuple[str, int], Any]:
    return {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}


def iceberg_table(warehouse: str, identifier: str) -> Any:
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    return load_catalog(IcebergOptions(warehouse=warehouse)).load_table(identifier)


def cassandra_rows(session: Any, table: str) -> int:
    return int(session.execute(f"SELECT count(*) FROM {table}").one()[0])
