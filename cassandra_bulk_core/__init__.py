"""cassandra-bulk's engine: plan token ranges, scan/count/export/load Cassandra tables.

Never imports dagster or airflow: the adapters translate orchestrator concepts into these calls.
Names are exported lazily (PEP 562): ``import cassandra_bulk_core.ring`` costs neither pyarrow nor
the driver, and an adapter pays only for the stages it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_EXPORTS: dict[str, str] = {
    "ConnectionConfig": "connection",
    "CountFailed": "count",
    "CountResult": "count",
    "count_table": "count",
    "count_window": "count",
    "BulkError": "errors",
    "ConfigError": "errors",
    "ConnectionFailed": "errors",
    "CompositeListener": "events",
    "Listener": "events",
    "LoggingListener": "events",
    "ProgressFileListener": "events",
    "RangeEvent": "events",
    "ExportFailed": "export",
    "ExportOptions": "export",
    "ExportResult": "export",
    "RangeResult": "export",
    "export_range": "export",
    "export_table": "export",
    "LoadAborted": "load",
    "LoadCancelled": "errors",
    "LoadFailed": "errors",
    "LoadOptions": "load",
    "LoadResult": "load",
    "load_table": "load",
    "FULL_RING": "ring",
    "MAX_TOKEN": "ring",
    "MIN_TOKEN": "ring",
    "PlannedRange": "ring",
    "TokenRange": "ring",
    "owning_ring_token": "ring",
    "plan_ranges": "ring",
    "range_by_id": "ring",
    "SubRange": "routing",
    "ring_tokens": "routing",
    "route": "routing",
    "ScanCancelled": "scan",
    "ScanFailed": "scan",
    "ScanOptions": "scan",
    "ScanStats": "scan",
    "TableScan": "scan",
    "SinkOptions": "sinks",
    "IcebergSource": "sources",
    "Storage": "io",
    "StorageError": "io",
    "StorageOptions": "io",
    "TableInfo": "table",
    "parse_qualified": "table",
    "resolve_table": "table",
    "CsvOptions": "text_codecs",
    "TextCodecError": "text_codecs",
    "ColumnType": "types",
    "column_type": "types",
}

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
    "aio",
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


_SUBMODULES = {"aio"}
"""Exported as modules: ``from cassandra_bulk_core import aio`` (asyncio front end)."""


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
