"""What a Cassandra table looks like as a Dagster asset: the one override seam (like dagster-sling).

Subclass :class:`DagsterCassandraBulkTranslator` and override :meth:`get_asset_spec` to change
keys, groups, tags, owners or descriptions; the asset factory only reads the returned spec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import AssetSpec, TableSchema

MODES = ("mirror", "daily")


@dataclass(frozen=True)
class CassandraTable:
    """One Cassandra table exported to one Iceberg table (the asset).

    ``mode``: ``mirror`` (partitions = token ranges; each run replaces its range) or ``daily``
    (partitions = date x range; each run files its range under that date). ``start_date`` is the
    first daily partition. ``columns`` limits the export to those columns (default: all).
    """

    keyspace: str
    table: str
    splits: int = 16
    mode: str = "mirror"
    iceberg_table: str | None = None
    partition_by: tuple[str, ...] = ()
    sort_by: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None
    start_date: str | dt.date | None = None
    group_name: str | None = None
    description: str | None = None
    column_schema: TableSchema | None = None
    """Known column schema to show before the first run (each run also reports the live one)."""
    table_properties: Mapping[str, str] = field(default_factory=dict)
    asset_key: tuple[str, ...] | None = None
    """Asset key path (default ``(keyspace, table)``); two assets over one table need distinct keys."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "daily" and self.start_date is None:
            raise ValueError(f"{self.qualified}: daily mode needs a start_date for its date partitions")
        if self.splits < 1:
            raise ValueError(f"splits must be >= 1, got {self.splits}")
        object.__setattr__(self, "partition_by", tuple(self.partition_by))
        object.__setattr__(self, "sort_by", tuple(self.sort_by))
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
        if self.asset_key is not None:
            object.__setattr__(self, "asset_key", tuple(self.asset_key))

    @property
    def qualified(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def iceberg_identifier(self) -> str:
        return self.iceberg_table or self.qualified


class DagsterCassandraBulkTranslator:
    """Maps a :class:`CassandraTable` to an ``AssetSpec``. Override ``get_asset_spec``."""

    def get_asset_spec(self, table: CassandraTable) -> AssetSpec:
        from dagster import AssetKey, AssetSpec

        metadata: dict[str, Any] = {
            "cassandra_bulk/source": table.qualified,
            "cassandra_bulk/splits": table.splits,
            "cassandra_bulk/mode": table.mode,
            "dagster/table_name": table.iceberg_identifier,
        }
        if table.column_schema is not None:
            metadata["dagster/column_schema"] = table.column_schema
        return AssetSpec(
            key=AssetKey(list(table.asset_key or (table.keyspace, table.table))),
            group_name=table.group_name or table.keyspace,
            kinds={"cassandra", "iceberg"},
            description=table.description
            or (
                f"Cassandra table `{table.qualified}` mirrored into Iceberg table `{table.iceberg_identifier}`, "
                f"one partition per token range ({table.splits} ranges"
                + (", times one date per day)." if table.mode == "daily" else ").")
            ),
            metadata=metadata,
        )


def column_schema_from_cql(table_metadata: Any) -> TableSchema:
    """Dagster column schema from the driver's ``TableMetadata`` (CQL types, primary key required)."""
    from dagster import TableColumn, TableColumnConstraints, TableSchema

    pk = {c.name for c in table_metadata.partition_key}
    ck = {c.name for c in table_metadata.clustering_key}
    columns = []
    for name, col in table_metadata.columns.items():
        role = "partition key" if name in pk else "clustering key" if name in ck else None
        columns.append(
            TableColumn(
                name=name,
                type=str(col.cql_type),
                description=role,
                constraints=TableColumnConstraints(nullable=name not in pk | ck),
            )
        )
    return TableSchema(columns=columns)
