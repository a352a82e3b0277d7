"""Table maintenance for exported Iceberg tables as a Dagster op and job: compact small files per
range, expire snapshots, remove orphans. Translation only: the config becomes a
``MaintenanceOptions`` and the work is one ``cassandra_bulk_core`` call (:func:`run_maintenance`).

Typical use: a nightly job after the export, scheduled a few hours later::

    maintenance = build_cassandra_iceberg_maintenance_job(
        ["ks.events"], rewrite_small_files=True, expire_older_than_hours=7 * 24, remove_orphans_older_than_hours=24
    )
    defs = Definitions(jobs=[maintenance], resources={"iceberg": IcebergCatalogResource(warehouse="warehouse")},
                       schedules=[ScheduleDefinition(job=maintenance, cron_schedule="0 5 * * *")])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dagster import Config, In, JobDefinition, Nothing, OpDefinition, OpExecutionContext, Out, job, op

from dagster_cassandra_bulk.resources import IcebergCatalogResource


class CassandraIcebergMaintenanceConfig(Config):  # type: ignore[misc]
    """Run config of one maintenance op (defaults come from the factory's arguments)."""

    rewrite_small_files: bool = False
    target_file_size: str = "128MB"
    ranges: list[str] | None = None
    expire_older_than_hours: float | None = None
    remove_orphans_older_than_hours: float | None = None
    dry_run: bool = False


def run_iceberg_maintenance(
    iceberg: IcebergCatalogResource, table: str, config: CassandraIcebergMaintenanceConfig, log: Any = None
) -> dict[str, Any]:
    """One table's maintenance through the engine; returns its JSON-safe report (also usable from
    an asset body: ``run_iceberg_maintenance(iceberg, "ks.events", CassandraIcebergMaintenanceConfig(...))``).

    :param iceberg: where the catalog is.
    :param table: the Iceberg ``namespace.table``.
    :param config: which steps run, with their thresholds.
    :param log: a logger for the one-line summary (the op's ``context.log``).
    """
    from cassandra_bulk_core.iceberg import load_catalog
    from cassandra_bulk_core.iceberg.maintenance import MaintenanceOptions, run_maintenance

    def hours(value: float | None) -> dt.timedelta | None:
        return None if value is None else dt.timedelta(hours=value)

    options = MaintenanceOptions(
        rewrite_small_files=config.rewrite_small_files,
        target_file_size=config.target_file_size,
        ranges=tuple(config.ranges) if config.ranges else None,
        expire_older_than=hours(config.expire_older_than_hours),
        remove_orphans_older_than=hours(config.remove_orphans_older_than_hours),
        dry_run=config.dry_run,
    )
    ice = iceberg.iceberg_options(table=table)
    report = run_maintenance(load_catalog(ice), table, options, ice.catalog_properties).to_dict()
    if log is not None:
        rewrite = report.get("rewrite_small_files") or {}
        log.info(
            "maintenance of %s: %s range(s) compacted (%s -> %s files), %s snapshot(s) expired, %s orphan(s) removed",
            table,
            rewrite.get("ranges_rewritten", 0),
            rewrite.get("files_before", "-"),
            rewrite.get("files_after", "-"),
            report.get("expired_snapshots", 0),
            len(report.get("orphan_files") or []),
        )
    return report


def build_cassandra_iceberg_maintenance_op(
    table: str,
    *,
    name: str | None = None,
    resource_key: str = "iceberg",
    rewrite_small_files: bool = True,
    target_file_size: str = "128MB",
    expire_older_than_hours: float | None = 7 * 24,
    remove_orphans_older_than_hours: float | None = 24,
) -> OpDefinition:
    """An op maintaining one Iceberg table; its run config can override every default given here.

    :param table: the Iceberg ``namespace.table`` (for an export: the Cassandra ``keyspace.table``).
    :param name: the op's name (default ``maintain_<namespace>__<table>``).
    :param resource_key: the :class:`IcebergCatalogResource`'s key.
    """
    defaults = {
        "rewrite_small_files": rewrite_small_files,
        "target_file_size": target_file_size,
        "expire_older_than_hours": expire_older_than_hours,
        "remove_orphans_older_than_hours": remove_orphans_older_than_hours,
    }
    types = {
        "rewrite_small_files": bool,
        "target_file_size": str,
        "expire_older_than_hours": float | None,
        "remove_orphans_older_than_hours": float | None,
    }
    config_class = type(
        "MaintenanceConfig_" + table.replace(".", "__"),
        (CassandraIcebergMaintenanceConfig,),
        {"__annotations__": types, "__module__": __name__, **defaults},
    )

    def _maintain(context: OpExecutionContext, config: Any) -> dict[str, Any]:
        iceberg = getattr(context.resources, resource_key)
        report = run_iceberg_maintenance(iceberg, table, config, context.log)
        context.add_output_metadata({"report": report})
        return report

    # The config class is built here, so the annotation Dagster reads must be the class itself.
    _maintain.__annotations__ = {"context": OpExecutionContext, "config": config_class, "return": dict}
    return op(
        name=name or f"maintain_{table.replace('.', '__')}",
        required_resource_keys={resource_key},
        ins={"after": In(Nothing)},
        out=Out(dict),
        tags={"kind": "iceberg"},
    )(_maintain)


def build_cassandra_iceberg_maintenance_job(
    tables: Sequence[str], *, name: str = "cassandra_iceberg_maintenance", **op_defaults: Any
) -> JobDefinition:
    """A job with one maintenance op per table (they run side by side: tables are independent).

    :param tables: Iceberg ``namespace.table`` names.
    :param name: the job's name.
    :param op_defaults: defaults for every op (see :func:`build_cassandra_iceberg_maintenance_op`).
    """
    ops = [build_cassandra_iceberg_maintenance_op(t, **op_defaults) for t in tables]

    @job(name=name, tags={"kind": "iceberg"})
    def _job() -> None:
        for maintain in ops:
            maintain()

    return _job


cassandra_iceberg_maintenance_job = build_cassandra_iceberg_maintenance_job
"""The name the design uses."""
