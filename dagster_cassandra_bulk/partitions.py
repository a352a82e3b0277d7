"""Token ranges as Dagster partitions: partition key == the engine's stable range id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cassandra_bulk_core import plan_ranges

if TYPE_CHECKING:
    from dagster import StaticPartitionsDefinition


def token_range_partitions(splits: int) -> StaticPartitionsDefinition:
    """One static partition per planned range (``r03-of-16``); identical on every run and worker."""
    from dagster import StaticPartitionsDefinition

    return StaticPartitionsDefinition([r.id for r in plan_ranges(splits)])
