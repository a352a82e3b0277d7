"""Two Cassandra tables as token-range partitioned Iceberg assets, against the local node.

    make cassandra-up                      # a local Cassandra 5 on 127.0.0.1 (or any node)
    uv run python -m examples.demo         # optional: fills demo.events (see the top README)
    uv run dagster dev -f examples/dagster/definitions.py

``demo.events`` mirrors the table (one partition per range); ``demo.events_daily`` is the same
table filed under a date each night (date x range partitions, nightly schedule).
"""

from __future__ import annotations

import os

from dagster import AssetSpec, Definitions, EnvVar

from dagster_cassandra_bulk import (
    CassandraResource,
    CassandraTable,
    DagsterCassandraBulkTranslator,
    IcebergCatalogResource,
    build_cassandra_iceberg_checks,
    build_nightly_schedule,
    cassandra_iceberg_assets,
)

TABLES = [
    CassandraTable("demo", "events", splits=16),
    CassandraTable(
        "demo", "events", splits=16, mode="daily", start_date="2026-11-01", iceberg_table="demo.events_daily"
    ),
]


def _key_for(table: CassandraTable) -> list[str]:
    """Both assets read demo.events, so the daily one gets its own key (the translator seam)."""
    return [table.keyspace, table.table] if table.mode == "mirror" else [table.keyspace, f"{table.table}_daily"]


class Translator(DagsterCassandraBulkTranslator):
    def get_asset_spec(self, table: CassandraTable) -> AssetSpec:
        return super().get_asset_spec(table).replace_attributes(key=_key_for(table))


assets = cassandra_iceberg_assets(TABLES, translator=Translator())
checks = [c for t, a in zip(TABLES, assets, strict=True) for c in build_cassandra_iceberg_checks(t, asset_key=a.key)]

defs = Definitions(
    assets=assets,
    asset_checks=checks,
    schedules=[build_nightly_schedule(assets[1])],
    resources={
        "cassandra": CassandraResource(
            contact_points=[os.environ.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1")],
            username=os.environ.get("CASSANDRA_USERNAME"),
            # An EnvVar is resolved at run time and never stored or shown in the UI.
            password=EnvVar("CASSANDRA_PASSWORD") if os.environ.get("CASSANDRA_PASSWORD") else None,
        ),
        "iceberg": IcebergCatalogResource(warehouse=os.environ.get("ICEBERG_WAREHOUSE", "out/warehouse")),
    },
)
