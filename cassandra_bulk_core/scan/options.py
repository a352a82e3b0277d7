"""What a scan is asked for (:class:`ScanOptions`), what it reports (:class:`ScanStats`), and how
it ends when it does not finish (:class:`ScanCancelled`, :class:`ScanFailed`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pyarrow as pa

from ..errors import BulkError
from ..ring import TokenRange

SCAN_PROFILE = "cassandra_bulk_scan"
WRITETIME_TYPE = pa.timestamp("us", tz="UTC")


class ScanCancelled(BulkError):
    """:meth:`TableScan.cancel` was called (an orchestrator killing its task)."""

    exit_code = 4
    transient = False


class ScanFailed(BulkError):
    exit_code = 4


@dataclass(frozen=True)
class ScanOptions:
    """How to read: which columns, page size, parallelism, metadata columns and filters."""

    columns: tuple[str, ...] | None = None
    page_size: int = 5000
    streams: int = 4
    splits_per_vnode: int = 1
    consistency: str = "LOCAL_ONE"
    request_timeout: float = 60.0
    max_attempts: int = 5
    retry_seconds: float = 60.0
    """A failed page is asked again (on the next replica) until both ``max_attempts`` attempts were
    made and this many seconds have passed since its first attempt. A count alone gave up too soon:
    a stopped (not yet convicted) replica is still chosen by the other replicas' coordinators until
    gossip marks it down, ~10-30 s, so five quick attempts could fail a range of an RF=2 table."""
    local_dc: str | None = None
    writetime: bool = False
    """Add ``writetime(col)`` and ``ttl(col)`` for every column Cassandra allows them on."""
    written_after: int | None = None
    """Keep rows with at least one cell written at or after this time (epoch microseconds)."""
    written_before: int | None = None
    """Keep rows whose newest cell was written before this time (epoch microseconds)."""
    cancel: threading.Event | None = field(default=None, compare=False, repr=False)
    """Set it to stop the scan (an orchestrator's ``on_kill``): see :meth:`TableScan.cancel`."""


@dataclass
class ScanStats:
    rows: int = 0
    pages: int = 0
    retries: int = 0
    filtered: int = 0
    hosts: dict[str, int] = field(default_factory=dict)
    empty_values: dict[str, int] = field(default_factory=dict)
    """Per column, zero-length (EMPTY) values of types that have no empty form, exported as null."""
    routes: list[tuple[TokenRange, str]] | None = None
    """When a list, every page's (sub-range, host) is appended: evidence of replica routing."""
