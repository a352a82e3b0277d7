"""Nightly export of a Cassandra table into Iceberg: plan → one mapped task per token range → verify.

Each token range is one mapped task instance, so Airflow retries, clears and scales out per range;
the engine's per-range Iceberg commit makes a retried or cleared range replace its own rows, never
duplicate them. In ``daily`` mode the rows are filed under the run's data-interval date, so each
night is its own slice of every range. The verify task compares per-range counts and emits the
table's Asset event.

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

from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
    CassandraIcebergVerifyOperator,
    CassandraRangePlanOperator,
    CassandraToIcebergOperator,
)


def build_dag(
    dag_id: str = "cassandra_to_iceberg",
    *,
    table: str,
    warehouse: str,
    splits: int = 16,
    mode: str = "daily",
    cassandra_conn_id: str = "cassandra_bulk_default",
    schedule: Any = "@daily",
    retries: int = 2,
) -> DAG:
    common: dict[str, Any] = {"table": table, "cassandra_conn_id": cassandra_conn_id}
    iceberg: dict[str, Any] = {
        "warehouse": warehouse,
        "mode": mode,
        # The data interval picks the slice the rows are filed under (daily mode only).
        "export_date": "{{ data_interval_start | ds }}",
    }
    with DAG(
        dag_id,
        schedule=schedule,
        start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": retries, "retry_delay": dt.timedelta(seconds=30)},
        tags=["cassandra-bulk", "iceberg"],
    ) as dag:
        plan = CassandraRangePlanOperator(task_id="plan", splits=splits)
        export = CassandraToIcebergOperator.partial(
            task_id="export_range",
            map_index_template="{{ cassandra_bulk_range }}",
            max_active_tis_per_dagrun=8,
            **common,
            **iceberg,
        ).expand(range_id=plan.output)
        verify = CassandraIcebergVerifyOperator(task_id="verify", splits=splits, **common, **iceberg)
        export >> verify
    return dag


dag = build_dag(
    table=os.environ.get("CASSANDRA_BULK_EXAMPLE_TABLE", "demo.events"),
    warehouse=os.environ.get("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", "out/warehouse"),
    splits=int(os.environ.get("CASSANDRA_BULK_EXAMPLE_SPLITS", "16")),
)
