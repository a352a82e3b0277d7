"""The scan stage: one planned token range of a table as Arrow record batches.

- :mod:`.options` — ScanOptions, ScanStats, ScanCancelled, ScanFailed.
- :mod:`.table_scan` — TableScan: prepared statements, exact decoding, paging with fail-over.
- :mod:`.fanout` — sub-range streams in threads feeding one consumer.
- :mod:`.columns` — write-time columns, the EMPTY-values report line.
"""

from __future__ import annotations

from .columns import empty_values_message, writetime_columns
from .options import SCAN_PROFILE, WRITETIME_TYPE, ScanCancelled, ScanFailed, ScanOptions, ScanStats
from .table_scan import TableScan, _retryable

__all__ = [
    "SCAN_PROFILE",
    "WRITETIME_TYPE",
    "ScanCancelled",
    "ScanFailed",
    "ScanOptions",
    "ScanStats",
    "TableScan",
    "_retryable",
    "empty_values_message",
    "writetime_columns",
]
