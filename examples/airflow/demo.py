"""Airflow demo: run the example export DAG with ``airflow dags test`` and count the Iceberg rows.

Everything a first-time user would do, in a throw-away ``AIRFLOW_HOME``: ``airflow db migrate``
(SQLite metadata DB), the connection from an ``AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT`` variable,
this folder as the DAGs folder, then ``airflow dags test cassandra_to_iceberg <today>``: the plan
task, one mapped ``export_range`` instance per token range, and ``verify``. The Iceberg table is
then read back with pyiceberg. Nothing here reaches into the provider: it is the Airflow CLI.

Run it on its own (a Cassandra node with the table must be up, e.g. after ``make demo``)::

    uv run python examples/airflow/demo.py --table demo.events --warehouse out/warehouse

or from Python: ``run("127.0.0.1", 9042, "demo", "events", "out/warehouse")`` returns the row count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAG_ID = "cassandra_to_iceberg"
SPLITS = 16
HERE = Path(__file__).resolve().parent


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def _airflow() -> str:
    """The ``airflow`` script next to this interpreter (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("airflow")
    return str(beside) if beside.exists() else "airflow"


def _environment(home: Path, contact_point: str, port: int, keyspace: str, table: str, warehouse: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(HERE),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT=json.dumps(
            {"conn_type": "cassandra_bulk", "host": contact_point, "port": port}
        ),
        CASSANDRA_BULK_EXAMPLE_TABLE=f"{keyspace}.{table}",
        CASSANDRA_BULK_EXAMPLE_WAREHOUSE=str(Path(warehouse).absolute()),
        CASSANDRA_BULK_EXAMPLE_SPLITS=str(SPLITS),
    )
    return env


def _airflow_run(args: list[str], env: dict, echo: bool = True) -> subprocess.CompletedProcess[str]:
    if echo:
        say("$ airflow " + " ".join(args))
    res = subprocess.run([_airflow(), *args], env=env, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        sys.stderr.write(res.stdout[-4000:] + res.stderr[-4000:])
        raise RuntimeError(f"airflow {' '.join(args)} failed with exit code {res.returncode}")
    return res


def _task_states(home: Path) -> list[tuple[str, int, str | None, str]]:
    """(task, map index, rendered map index, state) of the run, from the demo's own metadata DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        return db.execute(
            "SELECT task_id, map_index, rendered_map_index, state FROM task_instance WHERE dag_id = ? "
            "ORDER BY task_id, map_index",
            (DAG_ID,),
        ).fetchall()


def _iceberg_rows(warehouse: str, identifier: str) -> int:
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    table = load_catalog(IcebergOptions(warehouse=str(Path(warehouse).absolute()))).load_table(identifier)
    return int(table.scan().to_arrow().num_rows)


def run(contact_point: str, port: int, keyspace: str, table: str, warehouse: str) -> int:
    """Export ``keyspace.table`` into the Iceberg warehouse through Airflow; returns the Iceberg row count."""
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="cassandra-bulk-airflow-"))
    try:
        env = _environment(home, contact_point, port, keyspace, table, warehouse)
        say(f"AIRFLOW_HOME={home} (SQLite), DAGs folder {HERE}")
        say(f"connection cassandra_bulk_default -> {contact_point}:{port} (AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT)")
        _airflow_run(["db", "migrate"], env)
        day = dt.datetime.now(dt.timezone.utc).date().isoformat()
        _airflow_run(["dags", "test", DAG_ID, day], env)
        states = _task_states(home)
        mapped = [(label, state) for task, index, label, state in states if task == "export_range" and index >= 0]
        if not mapped or any(state != "success" for _, _, _, state in states):
            raise RuntimeError(f"the DAG run did not succeed: {states}")
        say(
            f"Airflow ran {DAG_ID}: plan, {len(mapped)} mapped export_range instances "
            f"({mapped[0][0]} .. {mapped[-1][0]}), verify: all success"
        )
        rows = _iceberg_rows(warehouse, f"{keyspace}.{table}")
        say(f"Iceberg table {keyspace}.{table} in {warehouse}: a pyiceberg scan reads {rows} rows")
        say(f"OK (Airflow demo {time.monotonic() - started:.1f}s)")
        return rows
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    parser.add_argument("--table", default="demo.events", help="keyspace.table")
    parser.add_argument("--warehouse", default="out/warehouse")
    args = parser.parse_args(argv)
    keyspace, _, table = args.table.partition(".")
    run(args.host, args.port, keyspace, table, args.warehouse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
