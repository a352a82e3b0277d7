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
from .table import TableInfo, parse_qualified, resolve_table

__all__ = [
    "FULL_RING",
    "MAX_TOKEN",
    "MIN_TOKEN",
    "BulkError",
    "ConfigError",
    "ConnectionConfig",
    "ConnectionFailed",
    "CountFailed",
    "CountResult",
    "PlannedRange",
    "SubRange",
    "TableInfo",
    "TokenRange",
    "__version__",
    "count_table",
    "count_window",
    "owning_ring_token",
    "parse_qualified",
    "plan_ranges",
    "range_by_id",
    "resolve_table",
    "ring_tokens",
    "route",
]
