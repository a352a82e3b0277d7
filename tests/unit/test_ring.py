import bisect
import itertools
import random

import pytest

from cassandra_bulk_core import (
    FULL_RING,
    MAX_TOKEN,
    MIN_TOKEN,
    PlannedRange,
    TokenRange,
    owning_ring_token,
    plan_ranges,
    range_by_id,
)


def _assert_partition_of(plan: list[PlannedRange], window: TokenRange) -> None:
    assert plan[0].tokens.start == window.start
    assert plan[-1].tokens.end == window.end
    for a, b in itertools.pairwise(plan):
        assert a.tokens.end == b.tokens.start, "ranges must be contiguous"
        assert a.tokens.start < a.tokens.end
    assert sum(r.tokens.size for r in plan) == window.size


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 64, 1024, 100_003])
def test_plan_covers_whole_ring_exactly_once(n: int) -> None:
    plan = plan_ranges(n)
    assert len(plan) == n
    _assert_partition_of(plan, FULL_RING)
    assert [r.index for r in plan] == list(range(n))


def test_full_ring_boundaries_are_round_numbers() -> None:
    assert [r.tokens.end for r in plan_ranges(4)] == [-(2**62), 0, 2**62, MAX_TOKEN]


def test_every_token_belongs_to_exactly_one_range() -> None:
    plan = plan_ranges(13)
    rng = random.Random(7)
    probes = [MIN_TOKEN, MIN_TOKEN + 1, -1, 0, 1, MAX_TOKEN - 1, MAX_TOKEN]
    probes += [r.tokens.end for r in plan] + [r.tokens.end + 1 for r in plan[:-1]]
    probes += [rng.randint(MIN_TOKEN, MAX_TOKEN) for _ in range(2000)]
    for t in probes:
        owners = [r.index for r in plan if t in r.tokens]
        assert len(owners) == 1, (t, owners)


def test_min_token_is_in_first_range_only() -> None:
    plan = plan_ranges(3)
    assert MIN_TOKEN in plan[0].tokens
    assert plan[0].tokens.includes_start and not plan[1].tokens.includes_start
    assert plan[1].tokens.start not in plan[1].tokens


def test_ids_are_stable_sortable_and_safe_as_partition_keys() -> None:
    plan = plan_ranges(16)
    ids = [r.id for r in plan]
    assert ids[0] == "r00-of-16" and ids[15] == "r15-of-16"
    assert ids == sorted(ids) and len(set(ids)) == 16
    assert all(not set(i) & set(".,|/ ") for i in ids)
    assert plan_ranges(16) == plan  # nothing but (N, i) decides a range
    for r in plan:
        assert range_by_id(r.id) == r


def test_descriptors_round_trip_through_json_with_string_tokens() -> None:
    import json

    r = plan_ranges(5)[2]
    data = json.loads(json.dumps(r.to_dict()))
    assert isinstance(data["start"], str)
    assert PlannedRange.from_dict(data) == r


def test_explicit_window_is_split_within_itself() -> None:
    window = TokenRange(-1000, 1000)
    plan = plan_ranges(7, window)
    _assert_partition_of(plan, window)
    assert all(-1000 < r.tokens.end <= 1000 for r in plan)


def test_n_larger_than_a_tiny_window_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        plan_ranges(11, TokenRange(0, 10))
    assert len(plan_ranges(10, TokenRange(0, 10))) == 10


@pytest.mark.parametrize("bad", [(5, 5), (6, 5), (MIN_TOKEN - 1, 0), (0, MAX_TOKEN + 1)])
def test_invalid_windows_are_refused(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        TokenRange(*bad)


def test_bad_range_ids() -> None:
    for bad in ("x", "r5-of-4", "r-1-of-4", "r1-of-x"):
        with pytest.raises(ValueError):
            range_by_id(bad)


def test_split_at_cuts_only_inside() -> None:
    r = TokenRange(0, 100)
    assert r.split_at([-5, 0, 10, 50, 100, 200]) == [
        TokenRange(0, 10),
        TokenRange(10, 50),
        TokenRange(50, 100),
    ]
    assert r.split_at([]) == [r]


@pytest.mark.parametrize("parts", [1, 2, 3, 10, 1000])
def test_split_evenly_is_contiguous(parts: int) -> None:
    r = TokenRange(-7, 93)
    pieces = r.split_evenly(parts)
    assert len(pieces) == min(parts, 100)
    _assert_partition_of([PlannedRange(i, len(pieces), p) for i, p in enumerate(pieces)], r)


def test_owning_ring_token_wraps() -> None:
    ring = [-100, 0, 100]
    assert owning_ring_token(-150, ring) == -100
    assert owning_ring_token(-100, ring) == -100
    assert owning_ring_token(-99, ring) == 0
    assert owning_ring_token(101, ring) == -100  # wraps past the last token
    # Cut pieces are each inside one vnode: all of a piece's tokens have the same owner.
    for piece in TokenRange(-500, 500).split_at(ring):
        owners = {owning_ring_token(t, ring) for t in (piece.start + 1, piece.end)}
        assert len(owners) == 1


def test_single_token_ring() -> None:
    ring = [42]
    pieces = FULL_RING.split_at(ring)
    assert [p.end for p in pieces] == [42, MAX_TOKEN]
    assert {owning_ring_token(p.end, ring) for p in pieces} == {42}
    assert bisect.bisect_left(ring, 42) == 0
