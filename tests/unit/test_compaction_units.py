"""Compaction's pure parts: sizes as users write them, and the maintenance report's shape."""

from __future__ import annotations

import pytest

from cassandra_bulk_core.errors import ConfigError
from cassandra_bulk_core.iceberg.compaction import RangeRewrite, RewriteResult, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("128MB", 128 << 20),
        ("128mib", 128 << 20),
        ("1g", 1 << 30),
        ("1.5GB", 3 << 29),
        (" 64 KB ", 64 << 10),
        ("500000", 500_000),
        (4096, 4096),
    ],
)
def test_sizes(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-5MB", "100"])
def test_bad_sizes_are_one_clear_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"file size|below 1 KiB"):
        parse_size(text)


def test_report_lists_only_ranges_that_changed_or_conflicted() -> None:
    result = RewriteResult("ks.t", 1 << 20)
    result.ranges = [
        RangeRewrite("r0-of-3", "rewritten", files_before=9, files_after=1, rewritten_files=9, added_files=1, rows=90),
        RangeRewrite("r1-of-3", "at-target", files_before=1, files_after=1),
        RangeRewrite("r2-of-3", "conflict", files_before=5, files_after=1),
    ]
    doc = result.to_dict()
    assert doc["ranges_rewritten"] == 1 and doc["ranges_at_target"] == 1 and doc["ranges_conflicted"] == ["r2-of-3"]
    assert doc["files_before"] == 15 and doc["files_after"] == 3 and doc["rows_rewritten"] == 90
    assert [r["range_id"] for r in doc["ranges"]] == ["r0-of-3", "r2-of-3"]
