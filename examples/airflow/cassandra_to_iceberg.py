"""Export a Cassandra table into Iceberg: plan → one mapped task per token range → verify.

The three operators spelled out (``cassandra_nightly_iceberg.py`` gets the same from one call).
Each token range is one mapped task instance, named by its range id (``r03-of-16``), so Airflow
retries, clears and scales out per range; the engine's per-range Iceberg commit makes a retried or
cleared range replace its own rows, never duplicate them. ``mirror`` mode: the Iceberg table
mirrors the Cassandra table, range by range. The verify task compares per-range counts and emits
the table's Asset event. Triggered by hand (or by ``airflow dags test``).

Settings come from the environment so the file can be dropped into any ``dags/`` folder:
``CASSANDRA_BULK_EXAMPLE_TABLE`` (``demo.events``), ``CASSANDRA_BULK_EXAMPLE_WAREHOUSE``
(``out/warehouse``, the embedded SQLite catalog), ``CASSANDRA_BULK_EXAMPLE_SPLITS`` (``16``).
The connection is ``cassandra_bulk_default``, e.g.
``AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT='{"conn_type": "cassandra_bulk", "host": "127.0.0.1", "port": 9042}'``.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import DAG

from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
from airflow_provider_cassandra_bulk.operators.plan import CassandraRangePlanOperator
from airflow_provider_cassandra_bulk.operators.verify import CassandraIcebergVerifyOperator


def build_dag(
    dag_id: str = "cassandra_to_iceberg",
    *,
    table: str,
    warehouse: str,
    splits: int = 16,
    cassandra_conn_id: str = "cassandra_bulk_default",
    retries: int = 2,
    retry_delay: dt.timedelta = dt.timedelta(seconds=30),
) -> DAG:
    common: dict[str, Any] = {"table": table, "cassandra_conn_id": cassandra_conn_id, "warehouse": warehouse}
    with DAG(
        dag_id,
        schedule=None,
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": retries, "retry_delay": retry_delay},
        tags=["cassandra-bulk", "iceberg"],
    ) as dag:
        plan = CassandraRangePlanOperator(task_id="plan", splits=splits)
        export = CassandraToIcebergOperator.partial(
            task_id="export_range", max_active_tis_per_dagrun=8, **common
        ).expand(range_id=plan.output)
        verify = CassandraIcebergVerifyOperator(task_id="verify", splits=splits, **common)
        export >> verify
    return dag


dag = build_dag(
    table=os.environ.get("CASSANDRA_BULK_EXAMPLE_TABLE", "demo.events"),
    warehouse=os.environ.get("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", "out/warehouse"),
    splits=int(os.environ.get("CASSANDRA_BULK_EXAMPLE_SPLITS", "16")),
)
