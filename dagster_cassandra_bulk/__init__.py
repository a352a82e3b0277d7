"""Dagster integration for cassandra-bulk: token-range partitioned Cassandra→Iceberg assets.

This package only translates Dagster concepts (partition keys, resources, retries) into
``cassandra_bulk_core`` calls. The resources, asset factory, component and checks arrive with the
Dagster issue; today it registers itself with Dagster's library registry and exposes the partition
helper that maps token ranges onto partition keys.
"""

from dagster_cassandra_bulk.partitions import token_range_partitions
from dagster_cassandra_bulk.version import __version__

try:
    from dagster._core.libraries import DagsterLibraryRegistry

    DagsterLibraryRegistry.register("dagster-cassandra-bulk", __version__, is_dagster_package=False)
except ImportError:  # dagster is an optional extra; importing without it must still work for tooling
    pass

__all__ = ["__version__", "token_range_partitions"]
