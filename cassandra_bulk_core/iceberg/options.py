"""Iceberg export settings: :class:`IcebergOptions`, the modes, and the names cassandra-bulk adds to a table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..export import ExportFailed
from ..table import TableInfo

RANGE_COLUMN = "_cb_range"
DATE_COLUMN = "_cb_export_date"
MODES = ("mirror", "daily", "single", "incremental")
WATERMARK = "cassandra-bulk.watermark-us"
PROP_PREFIX = "cassandra-bulk."


class IcebergCommitFailed(ExportFailed):
    pass


@dataclass(frozen=True)
class IcebergOptions:
    """Where and how to write. Empty ``catalog_properties`` means the embedded default: a SQL
    catalog in ``<warehouse>/catalog.db`` (SQLite) with data under ``<warehouse>``."""

    table: str | None = None
    """``namespace.table``; default: the Cassandra ``keyspace.table``."""
    catalog_name: str = "default"
    catalog_properties: Mapping[str, str] = field(default_factory=dict)
    warehouse: str = "warehouse"
    mode: str = "mirror"
    export_date: dt.date | None = None
    """Daily mode: the date the rows are filed under (default: today, UTC)."""
    partition_by: tuple[str, ...] = ()
    """Extra partition transforms for a new table: ``col``, ``year|month|day|hour(col)``,
    ``truncate(N, col)`` (not ``bucket``: see :func:`_parse_transform`)."""
    sort_by: tuple[str, ...] = ()
    table_properties: Mapping[str, str] = field(default_factory=dict)
    commit_attempts: int = 60
    stale_after: dt.timedelta = dt.timedelta(minutes=10)
    """A redone range deletes files of its earlier attempts whose newest file is older than this
    (a live write of the same range by another process keeps touching its files)."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown Iceberg export mode {self.mode!r}; one of {', '.join(MODES)}")

    @property
    def date(self) -> dt.date:
        return self.export_date or dt.datetime.now(dt.timezone.utc).date()


def _identifier(info: TableInfo, options: IcebergOptions) -> str:
    return options.table or f"{info.keyspace}.{info.table}"


def _start_details(info: Any, identifier: str, mode: str) -> dict[str, Any]:
    return {"table": f"{info.keyspace}.{info.table}", "destination": f"iceberg:{identifier}", "mode": mode}
