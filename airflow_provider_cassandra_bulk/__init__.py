"""Airflow provider for cassandra-bulk: each token range becomes a dynamically mapped task.

Discovered through the ``apache_airflow_provider`` entry point (``get_provider_info``). Import the
hook and operators from their modules (kept out of this ``__init__`` so that discovery stays light)::

    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook
    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
        CassandraCountOperator,
        CassandraIcebergVerifyOperator,
        CassandraRangePlanOperator,
        CassandraToFilesOperator,
        CassandraToIcebergOperator,
    )
    from airflow_provider_cassandra_bulk.operators.load import (
        FilesToCassandraOperator,
        IcebergSnapshotOperator,
        IcebergToCassandraOperator,
    )
    from airflow_provider_cassandra_bulk.task_group import (
        cassandra_to_iceberg_task_group,
        iceberg_to_cassandra_task_group,
    )

(each operator also lives in its own module under ``operators/``: plan, export, count, verify, load).
"""

from airflow_provider_cassandra_bulk.get_provider_info import get_provider_info

__all__ = ["get_provider_info"]
