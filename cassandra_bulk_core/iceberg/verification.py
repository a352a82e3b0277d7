"""Checking an export: per-range row counts in Cassandra against the Iceberg table's partition
metadata, and which snapshot an export operation committed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..ring import PlannedRange
from ..table import TableInfo
from .options import DATE_COLUMN, PROP_PREFIX, RANGE_COLUMN


@dataclass
class VerifyResult:
    per_range: dict[str, tuple[int, int]]
    """range id → (rows in Cassandra, rows in Iceberg)."""

    @property
    def mismatches(self) -> dict[str, tuple[int, int]]:
        return {r: (c, i) for r, (c, i) in self.per_range.items() if c != i}

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cassandra_rows": sum(c for c, _ in self.per_range.values()),
            "iceberg_rows": sum(i for _, i in self.per_range.values()),
            "mismatches": {r: {"cassandra": c, "iceberg": i} for r, (c, i) in self.mismatches.items()},
        }


def iceberg_range_counts(table: Any, export_date: dt.date | None = None) -> dict[str, int]:
    """Rows per range from the table's partition metadata (no data file is read)."""
    counts: dict[str, int] = {}
    for row in table.inspect.partitions().to_pylist():
        part = row["partition"]
        if export_date is not None and part.get(DATE_COLUMN) != export_date:
            continue
        rid = part.get(RANGE_COLUMN)
        if rid is not None:
            counts[rid] = counts.get(rid, 0) + int(row["record_count"])
    return counts


def verify(
    cluster: Any,
    session: Any,
    info: TableInfo,
    table: Any,
    plan: list[PlannedRange],
    export_date: dt.date | None = None,
    concurrency: int = 8,
) -> VerifyResult:
    """Per-range row counts in Cassandra against the Iceberg table's per-range record counts."""
    from ..count import count_table

    cassandra = count_table(cluster, session, info, plan, concurrency=concurrency).per_range
    iceberg = iceberg_range_counts(table, export_date)
    return VerifyResult({r.id: (cassandra.get(r.id, 0), iceberg.get(r.id, 0)) for r in plan})


def operation_snapshot_id(table: Any, operation_id: str) -> int | None:
    """The newest snapshot an export operation committed (other writers may have committed since);
    orchestrators report it as the materialization's snapshot."""
    ours = [
        s
        for s in table.snapshots()
        if s.summary is not None and s.summary.get(f"{PROP_PREFIX}operation-id") == operation_id
    ]
    return max(ours, key=lambda s: s.timestamp_ms).snapshot_id if ours else None
