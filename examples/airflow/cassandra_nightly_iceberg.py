"""Nightly export into Iceberg, one daily snapshot per data interval, from one helper call.

``@daily`` in ``daily`` mode: each run files every range's rows under its data interval's date
(``{{ data_interval_start | ds }}``, a ``_cb_export_date`` partition), so the night of 2026-11-20
is its own slice of the table and a re-run of that night replaces only that slice.
:func:`cassandra_to_iceberg_task_group` builds plan → mapped export (one task per token range) →
verify (per-range counts for that date, then the table's Asset event).

Same environment settings as ``cassandra_to_iceberg.py`` (``CASSANDRA_BULK_EXAMPLE_TABLE``,
``_WAREHOUSE``, ``_SPLITS``; connection ``cassandra_bulk_default``).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG

from airflow_provider_cassandra_bulk.task_group import cassandra_to_iceberg_task_group

TABLE = os.environ.get("CASSANDRA_BULK_EXAMPLE_TABLE", "demo.events")

with DAG(
    "cassandra_nightly_iceberg",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=1)},
    tags=["cassandra-bulk", "iceberg", "nightly"],
) as dag:
    cassandra_to_iceberg_task_group(
        group_id="nightly",
        table=TABLE,
        warehouse=os.environ.get("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", "out/warehouse"),
        splits=int(os.environ.get("CASSANDRA_BULK_EXAMPLE_SPLITS", "16")),
        # Its own Iceberg table (demo.events_nightly): a daily table, partitioned by export date, is
        # not the mirror cassandra_to_iceberg writes, so both examples run side by side.
        iceberg_table=f"{TABLE}_nightly",
        mode="daily",
        export_date="{{ data_interval_start | ds }}",
    )
