"""Token ranges as Dagster partitions: partition key == the engine's stable range id.

``plan_ranges(N)`` depends only on N, so ``r03-of-16`` names the same tokens on every run and
worker; a static partitions definition is therefore enough (no dynamic partitions to keep in sync
with the ring's topology). Range ids contain only ``[a-z0-9-]``: nothing Dagster forbids in a
key (``...``, ``|``, ``,``, ``[``, ``]``), so they also work inside multi-partition keys.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cassandra_bulk_core.ring import plan_ranges

if TYPE_CHECKING:
    from dagster import MultiPartitionsDefinition, StaticPartitionsDefinition

RANGE_DIMENSION = "range"
DATE_DIMENSION = "date"


def token_range_partitions(splits: int) -> StaticPartitionsDefinition:
    """One static partition per planned range (``r03-of-16``); identical on every run and worker."""
    from dagster import StaticPartitionsDefinition

    return StaticPartitionsDefinition([r.id for r in plan_ranges(splits)])


def daily_token_range_partitions(
    splits: int,
    start_date: str | dt.date,
    *,
    timezone: str | None = None,
    end_offset: int = 0,
) -> MultiPartitionsDefinition:
    """Date x range partitions for nightly snapshot tables (engine ``daily`` mode).

    Keys look like ``2026-11-24|r03-of-16`` (Dagster orders dimensions by name: ``date``, ``range``).
    The date becomes the engine's ``export_date``, so re-running one day's range replaces only that
    day's slice of that range.
    """
    from dagster import DailyPartitionsDefinition, MultiPartitionsDefinition

    start = start_date.isoformat() if isinstance(start_date, dt.date) else start_date
    return MultiPartitionsDefinition(
        {
            DATE_DIMENSION: DailyPartitionsDefinition(start_date=start, timezone=timezone, end_offset=end_offset),
            RANGE_DIMENSION: token_range_partitions(splits),
        }
    )
