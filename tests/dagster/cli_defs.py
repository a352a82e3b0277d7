"""Definitions for the CLI backfill test; everything comes from environment variables the test sets."""

from __future__ import annotations

import os

from dagster import BackfillPolicy, Definitions

from dagster_cassandra_bulk import (
    CassandraResource,
    CassandraTable,
    IcebergCatalogResource,
    build_cassandra_iceberg_asset,
)

env = os.environ
asset = build_cassandra_iceberg_asset(
    CassandraTable(env["CB_TEST_KEYSPACE"], "items", splits=8),
    backfill_policy=BackfillPolicy.single_run(),
)
defs = Definitions(
    assets=[asset],
    resources={
        "cassandra": CassandraResource(
            contact_points=env["CB_TEST_CONTACT_POINTS"].split(","),
            port=int(env["CB_TEST_PORT"]),
            local_dc=env.get("CB_TEST_LOCAL_DC") or None,
            username=env.get("CB_TEST_USERNAME") or None,
            password=env.get("CB_TEST_PASSWORD") or None,
        ),
        "iceberg": IcebergCatalogResource(warehouse=env["CB_TEST_WAREHOUSE"]),
    },
)
