"""cassandra-bulk's engine: plan token ranges, scan/count/export/load Cassandra tables.

Never imports dagster or airflow: the adapters translate orchestrator concepts into these calls.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cassandra-bulk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .connection import ConnectionConfig
from .count import CountFailed, CountResult, count_table, count_window
from .errors import BulkError, ConfigError, ConnectionFailed
from .events import CompositeListener, Listener, LoggingListener, ProgressFileListener, RangeEvent
from .export import ExportFailed, ExportOptions, ExportResult, RangeResult, export_range, export_table
from .load import LoadAborted, LoadCancelled, LoadFailed, LoadOptions, LoadResult, load_table
from .ring import (
    FULL_RING,
    MAX_TOKEN,
    MIN_TOKEN,
    PlannedRange,
    TokenRange,
    owning_ring_token,
    plan_ranges,
    range_by_id,
)
from .routing import SubRange, ring_tokens, route
from .scan import ScanCancelled, ScanFailed, ScanOptions, ScanStats, TableScan
from .sinks import SinkOptions
from .sources import IcebergSource
from .storage import Storage, StorageError, StorageOptions
from .table import TableInfo, parse_qualified, resolve_table
from .text_codecs import CsvOptions, TextCodecError
from .types import ColumnType, column_type

__all__ = [
    "FULL_RING",
    "MAX_TOKEN",
    "MIN_TOKEN",
    "BulkError",
    "ColumnType",
    "CompositeListener",
    "ConfigError",
    "ConnectionConfig",
    "ConnectionFailed",
    "CountFailed",
    "CountResult",
    "CsvOptions",
    "ExportFailed",
    "ExportOptions",
    "ExportResult",
    "IcebergSource",
    "Listener",
    "LoadAborted",
    "LoadCancelled",
    "LoadFailed",
    "LoadOptions",
    "LoadResult",
    "LoggingListener",
    "PlannedRange",
    "ProgressFileListener",
    "RangeEvent",
    "RangeResult",
    "ScanCancelled",
    "ScanFailed",
    "ScanOptions",
    "ScanStats",
    "SinkOptions",
    "Storage",
    "StorageError",
    "StorageOptions",
    "SubRange",
    "TableInfo",
    "TableScan",
    "TextCodecError",
    "TokenRange",
    "__version__",
    "column_type",
    "count_table",
    "count_window",
    "export_range",
    "export_table",
    "load_table",
    "owning_ring_token",
    "parse_qualified",
    "plan_ranges",
    "range_by_id",
    "resolve_table",
    "ring_tokens",
    "route",
]
