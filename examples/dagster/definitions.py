"""Two Cassandra tables as token-range partitioned Iceberg assets, against the local node.

    make cassandra-up                      # a local Cassandra 5 on 127.0.0.1 (or any node)
    uv run python -m examples.demo         # optional: fills demo.events (see the top README)
    uv run dagster dev -f examples/dagster/definitions.py

``demo.events`` mirrors the table (one partition per range); ``demo.events_daily`` is the same
table filed under a date each night (date x range partitions, nightly schedule).
``cassandra/demo/events_restored`` is the reverse direction: the ``demo/events`` Iceberg table
loaded into the Cassandra table ``demo.events_restored`` (same schema, created beforehand, e.g. by
``make demo``), range by range with the same 16 partitions.
"""

from __future__ import annotations

import os

from dagster import AssetSpec, Definitions, EnvVar

from dagster_cassandra_bulk import (
    CassandraResource,
    CassandraTable,
    DagsterCassandraBulkTranslator,
    IcebergCassandraTable,
    IcebergCatalogResource,
    build_cassandra_iceberg_assets,
    build_cassandra_iceberg_checks,
    build_nightly_schedule,
    iceberg_cassandra_assets,
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


# The reverse direction: the mirror's Iceberg table back into Cassandra (a restore into a copy).
# Upstream is TABLES[0]'s asset (key from the same translator); rejected records fail a range.
RESTORES = [IcebergCassandraTable("demo", "events_restored", source=TABLES[0], max_errors=0)]

assets = build_cassandra_iceberg_assets(TABLES, translator=Translator())
restores = iceberg_cassandra_assets(RESTORES, translator=Translator(), log_dir="out/logs")
checks = [c for t, a in zip(TABLES, assets, strict=True) for c in build_cassandra_iceberg_checks(t, asset_key=a.key)]

defs = Definitions(
    assets=[*assets, *restores],
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
