"""Restore a Cassandra table from its Iceberg export: pin a snapshot → one mapped load per token range.

Triggered by hand. The run's parameters (UI form or ``--conf``) name what to restore:

* ``iceberg_table``: the Iceberg ``namespace.table`` an export wrote (default: the example table);
* ``target_table``: the Cassandra ``keyspace.table`` to write; it must exist with the exported
  columns (an empty copy for a restore drill, or the original after a loss);
* ``snapshot_id``: optional, an Iceberg snapshot to restore (e.g. the ``snapshot_id`` an export
  task returned); empty means the current snapshot. It is pinned once by the ``snapshot`` task, so
  every range reads the same state of the table even if an export commits during the restore.

Each token range is one mapped instance named by its range id (``r03-of-16``); the range's rows
are read through the export's ``_cb_range`` column (use the export's split count). Loads write with
one explicit timestamp per load, so a retried or cleared range rewrites the same cells and a re-run
of the whole DAG leaves the table as it was. Any rejected record fails its range (``max_errors=0``);
the records and reasons are in the load's log directory, named in the error and in the XCom.

``airflow dags test iceberg_to_cassandra_restore --conf '{"target_table": "demo.events_restored"}'``

Same environment settings as ``cassandra_to_iceberg.py``, plus ``CASSANDRA_BULK_EXAMPLE_RESTORE_TABLE``
(the default target, ``<table>_restored``).
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, Param

from airflow_provider_cassandra_bulk.task_group import iceberg_to_cassandra_task_group

TABLE = os.environ.get("CASSANDRA_BULK_EXAMPLE_TABLE", "demo.events")
TABLE_PATTERN = "^[A-Za-z0-9_]+[.][A-Za-z0-9_]+$"

with DAG(
    "iceberg_to_cassandra_restore",
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    params={
        "iceberg_table": Param(TABLE, type="string", pattern=TABLE_PATTERN, description="Iceberg namespace.table"),
        "target_table": Param(
            os.environ.get("CASSANDRA_BULK_EXAMPLE_RESTORE_TABLE", TABLE + "_restored"),
            type="string",
            pattern=TABLE_PATTERN,
            description="Cassandra keyspace.table to write (it must exist)",
        ),
        "snapshot_id": Param(None, type=["null", "integer"], description="Iceberg snapshot; empty = current"),
    },
    default_args={"retries": 2, "retry_delay": dt.timedelta(seconds=30)},
    tags=["cassandra-bulk", "iceberg", "restore"],
) as dag:
    iceberg_to_cassandra_task_group(
        group_id="restore",
        table="{{ params.target_table }}",
        iceberg_table="{{ params.iceberg_table }}",
        snapshot_id="{{ params.snapshot_id }}",
        warehouse=os.environ.get("CASSANDRA_BULK_EXAMPLE_WAREHOUSE", "out/warehouse"),
        splits=int(os.environ.get("CASSANDRA_BULK_EXAMPLE_SPLITS", "16")),
    )
