"""The summary line of a partly failed export names the failed ranges (issue "Faults": the RF=1
error gave a count and the token bounds of the first failure, but no range ids to re-run)."""

from __future__ import annotations

from cassandra_bulk_core.export import failed_ranges, run_ranges
from cassandra_bulk_core.parallel import RangeError
from cassandra_bulk_core.ring import plan_ranges


def test_run_ranges_tags_each_failure_with_its_range_and_the_line_lists_them() -> None:
    plan = plan_ranges(8)

    def one(planned):  # type: ignore[no-untyped-def]
        if planned.index in (2, 5):
            raise TimeoutError(f"tokens of {planned.index}")
        return planned.index

    results, failures = run_ranges(plan, one, 3, "t")
    assert sorted(results) == [0, 1, 3, 4, 6, 7]
    assert [getattr(f, "range_id", None) for f in failures] == [plan[2].id, plan[5].id]
    assert failed_ranges(failures, len(plan)) == f"2 of 8 range(s) failed ({plan[2].id}, {plan[5].id})"


def test_worker_failures_keep_their_range_and_a_long_list_is_cut() -> None:
    failures: list[BaseException] = [RangeError("boom", f"r{i:02d}-of-64") for i in range(30)]
    line = failed_ranges(failures, 64, shown=3)
    assert line == "30 of 64 range(s) failed (r00-of-64, r01-of-64, r02-of-64, and 27 more)"


def test_failures_without_a_range_give_the_count_only() -> None:
    assert failed_ranges([RuntimeError("x")], 4) == "1 of 4 range(s) failed"
