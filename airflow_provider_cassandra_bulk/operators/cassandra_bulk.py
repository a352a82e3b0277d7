"""Every operator under one import path (the first release's module; each now lives in its own).

The load direction mirrors it: ``IcebergToCassandraOperator.partial(...).expand(range_id=plan.output)``.

Each token range is one mapped task instance::

    plan = CassandraRangePlanOperator(task_id="plan", splits=16)
    export = CassandraToIcebergOperator.partial(task_id="export", table="ks.tbl", warehouse=...).expand(
        range_id=plan.output
    )
    export >> CassandraIcebergVerifyOperator(task_id="verify", table="ks.tbl", splits=16, ...)

or, in one call, :func:`airflow_provider_cassandra_bulk.task_group.cassandra_to_iceberg_task_group`.
"""

from __future__ import annotations

from airflow_provider_cassandra_bulk.operators.base import RANGE_CONTEXT_KEY, TaskKilled, TaskLogListener
from airflow_provider_cassandra_bulk.operators.count import CassandraCountOperator
from airflow_provider_cassandra_bulk.operators.export import CassandraToFilesOperator, CassandraToIcebergOperator
from airflow_provider_cassandra_bulk.operators.load import (
    FilesToCassandraOperator,
    IcebergSnapshotOperator,
    IcebergToCassandraOperator,
)
from airflow_provider_cassandra_bulk.operators.plan import CassandraRangePlanOperator
from airflow_provider_cassandra_bulk.operators.verify import CassandraIcebergVerifyOperator, iceberg_asset

__all__ = [
    "RANGE_CONTEXT_KEY",
    "CassandraCountOperator",
    "CassandraIcebergVerifyOperator",
    "CassandraRangePlanOperator",
    "CassandraToFilesOperator",
    "CassandraToIcebergOperator",
    "FilesToCassandraOperator",
    "IcebergSnapshotOperator",
    "IcebergToCassandraOperator",
    "TaskKilled",
    "TaskLogListener",
    "iceberg_asset",
]
