"""One call for the whole pattern: plan → one mapped export per token range → verify (+ Asset); and the
restore: pin the Iceberg snapshot → plan → one mapped load per token range."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import TaskGroup

from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook
from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator
from airflow_provider_cassandra_bulk.operators.plan import CassandraRangePlanOperator
from airflow_provider_cassandra_bulk.operators.verify import CassandraIcebergVerifyOperator


def cassandra_to_iceberg_task_group(
    *,
    table: str,
    warehouse: str,
    group_id: str | None = None,
    splits: int = 16,
    ranges: Any = None,
    mode: str = "mirror",
    export_date: str | None = None,
    cassandra_conn_id: str = CassandraBulkHook.default_conn_name,
    iceberg_table: str | None = None,
    catalog_name: str = "default",
    catalog_properties: Mapping[str, str] | None = None,
    max_active_tis_per_dagrun: int | None = 8,
    export_kwargs: Mapping[str, Any] | None = None,
    verify_kwargs: Mapping[str, Any] | None = None,
) -> TaskGroup:
    """Build, inside the current DAG, a task group ``plan >> export_range (mapped) >> verify``.

    Args:
        table: the Cassandra ``keyspace.table``.
        warehouse: the embedded catalog's directory (or the data location with ``catalog_properties``).
        group_id: default ``export_<keyspace>_<table>``.
        splits: ranges in the plan; each is one map index (grouped past ``[core] max_map_length``).
        ranges: only these ranges (ids or a template such as ``"{{ dag_run.conf['ranges'] }}"``);
            verify then checks just them.
        mode, export_date: as in :class:`CassandraToIcebergOperator`; in ``daily`` mode pass
            ``"{{ data_interval_start | ds }}"`` to file each run under its data interval.
        export_kwargs, verify_kwargs: any other operator arguments (``retries``, ``pool``, ...).

    Returns:
        The task group; set dependencies on it like on a task.

    Example::

        with DAG("nightly", schedule="@daily", ...):
            cassandra_to_iceberg_task_group(table="shop.orders", warehouse="/data/wh", mode="daily",
                                            export_date="{{ data_interval_start | ds }}")
    """
    common: dict[str, Any] = {"table": table, "cassandra_conn_id": cassandra_conn_id}
    iceberg: dict[str, Any] = {
        "warehouse": warehouse,
        "iceberg_table": iceberg_table,
        "catalog_name": catalog_name,
        "catalog_properties": catalog_properties,
        "mode": mode,
        "export_date": export_date,
    }
    with TaskGroup(group_id or "export_" + table.replace(".", "_")) as group:
        plan = CassandraRangePlanOperator(task_id="plan", splits=splits, ranges=ranges)
        export = CassandraToIcebergOperator.partial(
            task_id="export_range",
            max_active_tis_per_dagrun=max_active_tis_per_dagrun,
            **common,
            **iceberg,
            **dict(export_kwargs or {}),
        ).expand(range_id=plan.output)
        verify = CassandraIcebergVerifyOperator(
            task_id="verify",
            splits=splits,
            range_id=plan.output if ranges is not None else None,
            **common,
            **iceberg,
            **dict(verify_kwargs or {}),
        )
        export >> verify
    return group


def iceberg_to_cassandra_task_group(
    *,
    table: str,
    warehouse: str,
    iceberg_table: str | None = None,
    group_id: str | None = None,
    splits: int = 16,
    ranges: Any = None,
    snapshot_id: Any = None,
    as_of: Any = None,
    row_filter: str | None = None,
    max_errors: int | str = 0,
    cassandra_conn_id: str = CassandraBulkHook.default_conn_name,
    catalog_name: str = "default",
    catalog_properties: Mapping[str, str] | None = None,
    max_active_tis_per_dagrun: int | None = 4,
    load_kwargs: Mapping[str, Any] | None = None,
) -> TaskGroup:
    """Build, inside the current DAG, a restore group ``snapshot >> plan >> load_range (mapped)``.

    ``snapshot`` pins the Iceberg snapshot once (``snapshot_id``, else the one current at
    ``as_of``, else the current one) and every mapped ``load_range`` reads that snapshot, one
    token range per map index (named by its range id), into the Cassandra table ``table``.

    Args:
        table: the Cassandra ``keyspace.table`` written (it must exist, with the exported columns).
        warehouse: the embedded catalog's directory (or the data location with ``catalog_properties``).
        iceberg_table: the Iceberg ``namespace.table`` read; default ``table``.
        group_id: default ``restore_<keyspace>_<table>``.
        splits: ranges in the plan; for an Iceberg table exported by cassandra-bulk use the
            export's split count, so each range is read through its ``_cb_range`` value (any other
            count still works, by computing tokens, but reads more).
        ranges: only these ranges (ids or a template such as ``"{{ dag_run.conf['ranges'] }}"``).
        snapshot_id, as_of, row_filter, max_errors: as in :class:`IcebergToCassandraOperator`
            (templates welcome, e.g. ``"{{ params.snapshot_id }}"``).
        load_kwargs: any other load operator arguments (``retries``, ``pool``, ``log_dir``, ...).

    Example::

        with DAG("restore", schedule=None, ...):
            iceberg_to_cassandra_task_group(table="shop.orders_restored", iceberg_table="shop.orders",
                                            warehouse="/data/wh", splits=16)
    """
    from airflow_provider_cassandra_bulk.operators.load import IcebergSnapshotOperator, IcebergToCassandraOperator

    source = iceberg_table or table
    catalog: dict[str, Any] = {
        "warehouse": warehouse,
        "catalog_name": catalog_name,
        "catalog_properties": catalog_properties,
    }
    with TaskGroup(group_id or "restore_" + table.replace(".", "_")) as group:
        snapshot = IcebergSnapshotOperator(
            task_id="snapshot", iceberg_table=source, snapshot_id=snapshot_id, as_of=as_of, **catalog
        )
        plan = CassandraRangePlanOperator(task_id="plan", splits=splits, ranges=ranges)
        load = IcebergToCassandraOperator.partial(
            task_id="load_range",
            table=table,
            iceberg_table=source,
            cassandra_conn_id=cassandra_conn_id,
            snapshot_id=snapshot.output,  # one snapshot for every range (resolved at run time)
            row_filter=row_filter,
            max_errors=max_errors,
            max_active_tis_per_dagrun=max_active_tis_per_dagrun,
            **catalog,
            **dict(load_kwargs or {}),
        ).expand(range_id=plan.output)
        snapshot >> plan >> load
    return group
