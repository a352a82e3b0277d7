"""Re-export chosen token ranges only: trigger with ``{"ranges": ["r03-of-16", "r11-of-16"]}``.

For repairing a few ranges of the ``mirror`` table (say after a failed night or a data fix in
Cassandra) without touching the others. The run conf's ``ranges`` list (ids as the planner names
them; the count is in the id) becomes one mapped export per range, then verify checks exactly
those ranges. From the UI the ``ranges`` parameter fills the conf; from the CLI:
``airflow dags trigger cassandra_backfill_ranges --conf '{"ranges": ["r03-of-16"]}'``.

Same environment settings as ``cassandra_to_iceberg.py``.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param

from airflow_provider_cassandra_bulk.task_group import cassandra_to_iceberg_task_group

with DAG(
    "cassandra_backfill_ranges",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    params={
        "ranges": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^r[0-9]+-of-[0-9]+$"},
            description="Token range ids to re-export, e.g. r03-of-16",
        )
    },
    default_args={"retries": 2, "retry_delay": dt.timedelta(seconds=30)},
    tags=["cassandra-bulk", "iceberg", "backfill"],
) as dag:
    cassandra_to_iceberg_task_group(
        group_id="backfill",
        table=os.environ.get("CASSANDRA_BULK_EXAMPLE_TABLE", "demo.events"),
        warehouse=os.environ.get("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", "out/warehouse"),
        ranges="{{ dag_run.conf['ranges'] }}",
        mode="mirror",
    )
