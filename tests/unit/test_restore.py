"""The restore write-time rule shared by the CLI, Dagster and Airflow (no cluster needed)."""

from __future__ import annotations

import pytest

from cassandra_bulk_core.restore import non_frozen_lists, restore_write_time
from cassandra_bulk_core.types.tree import parse

PLAIN = {"k": parse("int"), "v": parse("text"), "fl": parse("frozen<list<int>>"), "s": parse("set<int>")}
LISTS = {**PLAIN, "l": parse("list<int>"), "m": parse("map<int, frozen<list<int>>>")}


def test_non_frozen_lists_are_the_only_appending_columns() -> None:
    assert non_frozen_lists(PLAIN) == []
    assert non_frozen_lists(LISTS) == ["l"]


def test_default_is_the_snapshot_time_unless_a_list_would_append() -> None:
    rule = restore_write_time(PLAIN, None, 1_700_000_000_123, "ks.t")
    assert (rule.policy, rule.timestamp, rule.notice) == ("snapshot", 1_700_000_000_123_000, None)
    rule = restore_write_time(LISTS, None, 1_700_000_000_123, "ks.t")
    assert rule.policy == "operation" and rule.timestamp is None and "l" in (rule.notice or "")
    assert restore_write_time(PLAIN, None, None, "ks.t").policy == "operation"  # files: no snapshot


def test_explicit_choices() -> None:
    assert restore_write_time(LISTS, 42, 1, "ks.t").timestamp == 42
    forced = restore_write_time(LISTS, "snapshot", 5, "ks.t")
    assert forced.timestamp == 5000 and forced.warning and "appends" in (forced.notice or "")
    assert restore_write_time(PLAIN, "operation", 5, "ks.t").timestamp is None
    with pytest.raises(ValueError, match="write time must be"):
        restore_write_time(PLAIN, "yesterday", 5, "ks.t")
