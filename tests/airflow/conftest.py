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
