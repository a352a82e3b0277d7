"""Dagster integration for cassandra-bulk: token-range partitioned Cassandra→Iceberg assets, and back.

A thin adapter, shaped like dagster-sling: resources (where Cassandra and the Iceberg catalog
are), an asset factory (one asset per table, one partition per token range), a translator (the
one override seam for asset specs), asset checks, a nightly schedule and a ``dg`` component. Every
piece of work is a ``cassandra_bulk_core`` call; the engine's driver, pyarrow and pyiceberg are
imported only when an asset runs, so loading definitions stays cheap.

The reverse direction (``build_iceberg_cassandra_asset``): an Iceberg table or exported files loaded
into a Cassandra table, partitioned by the same token ranges, each partition one engine load.
"""

from dagster_cassandra_bulk.asset_decorator import (
    DEFAULT_RETRY_POLICY,
    DagsterLogListener,
    backfill_policy_for,
    build_cassandra_iceberg_asset,
    build_cassandra_iceberg_assets,
    cassandra_iceberg_assets,
)
from dagster_cassandra_bulk.checks import build_cassandra_iceberg_checks
from dagster_cassandra_bulk.component import CassandraIcebergComponent
from dagster_cassandra_bulk.load_assets import (
    DagsterLoadLogListener,
    build_iceberg_cassandra_asset,
    iceberg_cassandra_assets,
)
from dagster_cassandra_bulk.partitions import daily_token_range_partitions, token_range_partitions
from dagster_cassandra_bulk.resources import CassandraResource, IcebergCatalogResource
from dagster_cassandra_bulk.schedules import build_nightly_schedule
from dagster_cassandra_bulk.translator import CassandraTable, DagsterCassandraBulkTranslator, IcebergCassandraTable
from dagster_cassandra_bulk.version import __version__

try:
    from dagster._core.libraries import DagsterLibraryRegistry

    DagsterLibraryRegistry.register("dagster-cassandra-bulk", __version__, is_dagster_package=False)
except ImportError:  # a private API; a Dagster that moved it must not break the import
    pass

# Maintenance (compaction, expiry, orphans) is imported on first use: most code locations never need it.
_LAZY = {
    "CassandraIcebergMaintenanceConfig": "dagster_cassandra_bulk.maintenance",
    "build_cassandra_iceberg_maintenance_job": "dagster_cassandra_bulk.maintenance",
    "build_cassandra_iceberg_maintenance_op": "dagster_cassandra_bulk.maintenance",
    "cassandra_iceberg_maintenance_job": "dagster_cassandra_bulk.maintenance",
    "run_iceberg_maintenance": "dagster_cassandra_bulk.maintenance",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_RETRY_POLICY",
    "CassandraIcebergComponent",
    "CassandraIcebergMaintenanceConfig",
    "CassandraResource",
    "CassandraTable",
    "DagsterCassandraBulkTranslator",
    "DagsterLoadLogListener",
    "DagsterLogListener",
    "IcebergCassandraTable",
    "IcebergCatalogResource",
    "__version__",
    "backfill_policy_for",
    "build_cassandra_iceberg_asset",
    "build_cassandra_iceberg_assets",
    "build_cassandra_iceberg_checks",
    "build_cassandra_iceberg_maintenance_job",
    "build_cassandra_iceberg_maintenance_op",
    "build_iceberg_cassandra_asset",
    "build_nightly_schedule",
    "cassandra_iceberg_assets",
    "cassandra_iceberg_maintenance_job",
    "daily_token_range_partitions",
    "iceberg_cassandra_assets",
    "run_iceberg_maintenance",
    "token_range_partitions",
]
