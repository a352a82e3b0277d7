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
FILE_FORMATS = ("csv", "jsonl", "parquet")
WRITE_TIMESTAMPS = ("snapshot", "operation")


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


@dataclass(frozen=True)
class IcebergCassandraTable:
    """One Iceberg table (or a directory of exported files) loaded into one Cassandra table (the asset).

    ``source``: the :class:`CassandraTable` whose export wrote the Iceberg table. Its asset becomes
    the upstream dependency (key from the translator), and its Iceberg identifier, split count and
    mode are the defaults here, so partition ``r03-of-16`` of this asset reads exactly the rows
    partition ``r03-of-16`` of the export wrote. Without a ``source``, name the Iceberg table
    (``iceberg_table``) or the files (``path`` + ``format``; files named ``rNN-of-NN-part-*`` by an
    export with the same split count are read per range) and optionally ``upstream_key``.

    ``write_timestamp``: the write time of every cell. ``"snapshot"`` (the default for Iceberg) is
    the source snapshot's commit time, so a retry or a re-run of a partition writes identical cells
    (same values, same writetimes) and a restore never overwrites what was written after the
    snapshot; ``"operation"`` (the default for files) is the time the load starts (newer than
    anything in the table: the restored values win); an int is epoch microseconds. A target with a
    non-frozen ``list`` column defaults to ``"operation"`` even from Iceberg: Cassandra keys list
    elements by a time UUID made per write, so the same list written twice at one timestamp holds
    its elements twice, while a newer timestamp replaces it.

    ``max_errors``: rejected records allowed per partition (a count, ``"N%"``, ``-1`` = any).
    With the default 0 a rejected record fails the partition; with a limit the partition succeeds,
    and the rejections are reported as metadata and a warning (the records are in ``log_dir``).
    ``export_date``: for a ``daily`` source, the date to load (default: the newest one exported).
    ``options``: further engine ``LoadOptions`` fields (``batch_mode``, ``concurrency``,
    ``max_rows_per_second``, ``ttl``, ``null_to_unset``, ...).
    """

    keyspace: str
    table: str
    source: CassandraTable | None = None
    iceberg_table: str | None = None
    path: str | None = None
    format: str | None = None
    splits: int | None = None
    snapshot_id: int | None = None
    export_date: str | dt.date | None = None
    row_filter: str | None = None
    mapping: Mapping[str, str] | None = None
    write_timestamp: int | str | None = None
    max_errors: int | str = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    asset_key: tuple[str, ...] | None = None
    """Asset key path (default ``("cassandra", keyspace, table)``: distinct from the export's key)."""
    upstream_key: tuple[str, ...] | None = None
    """The asset this one depends on (default: the ``source``'s asset, if any)."""
    group_name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None and (self.iceberg_table is not None or self.source is not None):
            raise ValueError(f"{self.qualified}: load from files (path) or Iceberg (source/iceberg_table), not both")
        if self.path is None and self.iceberg_table is None and self.source is None:
            raise ValueError(f"{self.qualified}: needs a source (CassandraTable), an iceberg_table or a path")
        if self.format is not None and self.format not in FILE_FORMATS:
            raise ValueError(f"format must be one of {', '.join(FILE_FORMATS)} (files only), got {self.format!r}")
        if self.format is not None and self.path is None:
            raise ValueError(f"{self.qualified}: format applies to files (path)")
        if isinstance(self.write_timestamp, str) and self.write_timestamp not in WRITE_TIMESTAMPS:
            raise ValueError(
                f"write_timestamp must be {' or '.join(WRITE_TIMESTAMPS)} or epoch microseconds, "
                f"got {self.write_timestamp!r}"
            )
        if self.write_timestamp == "snapshot" and self.path is not None:
            raise ValueError(f"{self.qualified}: files have no snapshot; write_timestamp 'operation' or an int")
        if self.splits is not None and self.splits < 1:
            raise ValueError(f"splits must be >= 1, got {self.splits}")
        if self.export_date is not None and not self.daily:
            raise ValueError(f"{self.qualified}: export_date needs a daily-mode source")
        if self.asset_key is not None:
            object.__setattr__(self, "asset_key", tuple(self.asset_key))
        if self.upstream_key is not None:
            object.__setattr__(self, "upstream_key", tuple(self.upstream_key))

    @property
    def qualified(self) -> str:
        return f"{self.keyspace}.{self.table}"

    @property
    def is_iceberg(self) -> bool:
        return self.path is None

    @property
    def daily(self) -> bool:
        return self.source is not None and self.source.mode == "daily"

    @property
    def iceberg_identifier(self) -> str:
        if self.iceberg_table:
            return self.iceberg_table
        return self.source.iceberg_identifier if self.source is not None else ""

    @property
    def source_name(self) -> str:
        """What is loaded: the Iceberg identifier or the files' path."""
        return self.path if self.path is not None else self.iceberg_identifier

    @property
    def range_splits(self) -> int:
        """The split count of the partitions: the source's, unless set."""
        return self.splits or (self.source.splits if self.source is not None else 16)

    @property
    def timestamp_policy(self) -> int | str:
        if self.write_timestamp is not None:
            return self.write_timestamp
        return "snapshot" if self.is_iceberg else "operation"


class DagsterCassandraBulkTranslator:
    """Maps a :class:`CassandraTable` to an ``AssetSpec`` (``get_asset_spec``) and an
    :class:`IcebergCassandraTable` to one (``get_load_asset_spec``). Override either."""

    def get_asset_spec(self, table: CassandraTable) -> AssetSpec:
        from dagster import AssetKey, AssetSpec

        metadata: dict[str, Any] = {
            "cassandra_bulk/source": table.qualified,
            "cassandra_bulk/splits": table.splits,
            "cassandra_bulk/mode": table.mode,
            **table_metadata(table_name=table.iceberg_identifier, column_schema=table.column_schema),
        }
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

    def get_load_asset_spec(self, load: IcebergCassandraTable) -> AssetSpec:
        """The Cassandra table a load writes; it depends on the export's asset (``get_asset_spec``)."""
        from dagster import AssetKey, AssetSpec

        if load.upstream_key is not None:
            deps = [AssetKey(list(load.upstream_key))]
        elif load.source is not None:
            deps = [self.get_asset_spec(load.source).key]
        else:
            deps = []
        source_kind = "iceberg" if load.is_iceberg else (load.format or "files")
        return AssetSpec(
            key=AssetKey(list(load.asset_key or ("cassandra", load.keyspace, load.table))),
            deps=deps,
            group_name=load.group_name or load.keyspace,
            kinds={source_kind, "cassandra"},
            description=load.description
            or (
                f"{'Iceberg table' if load.is_iceberg else 'Files'} `{load.source_name}` loaded into Cassandra "
                f"table `{load.qualified}`, one partition per token range ({load.range_splits} ranges)."
            ),
            metadata={
                "cassandra_bulk/source": load.source_name,
                "cassandra_bulk/splits": load.range_splits,
                "cassandra_bulk/direction": "load",
                **table_metadata(table_name=load.qualified),
            },
        )


def table_metadata(**values: Any) -> dict[str, Any]:
    """Dagster's typed table metadata (``TableMetadataSet``: ``dagster/table_name``,
    ``dagster/row_count``, ``dagster/column_schema``, ...), ``None`` values left out."""
    try:
        from dagster import TableMetadataSet  # type: ignore[attr-defined]
    except ImportError:  # not re-exported at the top level by every Dagster release
        from dagster._core.definitions.metadata.metadata_set import TableMetadataSet

    return dict(TableMetadataSet(**{k: v for k, v in values.items() if v is not None}))


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
