"""A ``dg`` component: Cassandra→Iceberg assets declared in ``defs.yaml``.

Example ``defs.yaml``::

    type: dagster_cassandra_bulk.CassandraIcebergComponent
    attributes:
      cassandra:
        contact_points: ["127.0.0.1"]
        username: "{{ env('CASSANDRA_USERNAME') }}"
        password_env_var: CASSANDRA_PASSWORD
      catalog:
        warehouse: warehouse
      splits: 16
      schedule: "0 2 * * *"
      tables:
        - keyspace: shop
          table: orders
        - keyspace: shop
          table: customers
          mode: daily
          start_date: "2026-11-01"

``build_defs`` only composes the asset factory, the checks, the schedule and the two resources.
"""

from __future__ import annotations

from dagster import Component, ComponentLoadContext, Definitions, EnvVar, Model, Resolvable
from pydantic import Field

from dagster_cassandra_bulk.asset_decorator import build_cassandra_iceberg_asset
from dagster_cassandra_bulk.checks import build_cassandra_iceberg_checks
from dagster_cassandra_bulk.resources import CassandraResource, IcebergCatalogResource
from dagster_cassandra_bulk.schedules import build_nightly_schedule
from dagster_cassandra_bulk.translator import CassandraTable


class CassandraConnectionModel(Model, Resolvable):
    contact_points: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    port: int = 9042
    local_dc: str | None = None
    username: str | None = None
    password: str | None = None
    password_env_var: str | None = None
    """Preferred over ``password``: Dagster resolves the variable at run time and stores only its name."""
    ssl_enabled: bool = False
    ssl_ca_file: str | None = None
    secure_connect_bundle: str | None = None
    consistency: str = "LOCAL_ONE"
    request_timeout: float = 60.0


class IcebergCatalogModel(Model, Resolvable):
    catalog_name: str = "default"
    properties: dict[str, str] = Field(default_factory=dict)
    warehouse: str = "warehouse"


class CassandraTableModel(Model, Resolvable):
    keyspace: str
    table: str
    splits: int | None = None
    mode: str | None = None
    iceberg_table: str | None = None
    partition_by: list[str] = Field(default_factory=list)
    sort_by: list[str] = Field(default_factory=list)
    columns: list[str] | None = None
    start_date: str | None = None
    group_name: str | None = None


class CassandraIcebergComponent(Component, Model, Resolvable):
    """Cassandra tables exported to Iceberg, one partition per token range; see the module docstring."""

    tables: list[CassandraTableModel]
    cassandra: CassandraConnectionModel = Field(default_factory=CassandraConnectionModel)
    catalog: IcebergCatalogModel = Field(default_factory=IcebergCatalogModel)
    splits: int = 16
    mode: str = "mirror"
    schedule: str | None = None
    """Cron for a nightly run of every range (per table); none by default."""
    checks: bool = True

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        assets, checks, schedules = [], [], []
        for t in self.tables:
            table = CassandraTable(
                keyspace=t.keyspace,
                table=t.table,
                splits=t.splits or self.splits,
                mode=t.mode or self.mode,
                iceberg_table=t.iceberg_table,
                partition_by=tuple(t.partition_by),
                sort_by=tuple(t.sort_by),
                columns=tuple(t.columns) if t.columns else None,
                start_date=t.start_date,
                group_name=t.group_name,
            )
            asset = build_cassandra_iceberg_asset(table)
            assets.append(asset)
            if self.checks:
                checks.extend(build_cassandra_iceberg_checks(table, asset_key=asset.key))
            if self.schedule:
                schedules.append(build_nightly_schedule(asset, cron_schedule=self.schedule))
        c = self.cassandra
        return Definitions(
            assets=assets,
            asset_checks=checks,
            schedules=schedules,
            resources={
                "cassandra": CassandraResource(
                    contact_points=c.contact_points,
                    port=c.port,
                    local_dc=c.local_dc,
                    username=c.username,
                    password=EnvVar(c.password_env_var) if c.password_env_var else c.password,
                    ssl_enabled=c.ssl_enabled,
                    ssl_ca_file=c.ssl_ca_file,
                    secure_connect_bundle=c.secure_connect_bundle,
                    consistency=c.consistency,
                    request_timeout=c.request_timeout,
                ),
                "iceberg": IcebergCatalogResource(
                    catalog_name=self.catalog.catalog_name,
                    properties=dict(self.catalog.properties),
                    warehouse=self.catalog.warehouse,
                ),
            },
        )
