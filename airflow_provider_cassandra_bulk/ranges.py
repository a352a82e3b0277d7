"""Range descriptors for dynamic task mapping: pure functions over the engine's ring math, no Airflow.

A descriptor is ``{"range_id": "r03-of-16", "start": "<token>", "end": "<token>"}``: strings only
(64-bit tokens do not survive JSON numbers in every consumer), so it is a safe XCom and a valid
``range_id`` for ``.expand(range_id=plan.output)`` (for ``.expand_kwargs``, wrap each in a dict of
operator arguments: ``{"range_id": descriptor, ...}``). When the plan has more ranges
than ``max_map_length``, consecutive ranges are grouped and ``range_id`` lists them comma-separated.
A chosen subset (a backfill) is described the same way, by :func:`group_descriptors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cassandra_bulk_core.ring import PlannedRange, plan_ranges, range_by_id

DEFAULT_MAX_MAP_LENGTH = 1024
"""Airflow's ``[core] max_map_length`` default."""


def plan_descriptors(splits: int, max_map_length: int | None = DEFAULT_MAX_MAP_LENGTH) -> list[dict[str, str]]:
    """Deterministic descriptors of ``plan_ranges(splits)``, at most ``max_map_length`` of them."""
    return _grouped(plan_ranges(splits), max_map_length)


def group_descriptors(selection: Any, max_map_length: int | None = DEFAULT_MAX_MAP_LENGTH) -> list[dict[str, str]]:
    """Descriptors of chosen ranges (ids, descriptors, a list of them; see :func:`resolve_ranges`),
    in ring order, without repeats; an empty selection is refused (a backfill of nothing is a mistake)."""
    ranges = resolve_ranges(selection)
    if not ranges:
        raise ValueError("no ranges selected: give range ids like 'r03-of-16' (or a list of them)")
    unique = sorted({r.index: r for r in ranges}.values(), key=lambda r: r.index)
    return _grouped(unique, max_map_length)


def _grouped(plan: list[PlannedRange], max_map_length: int | None) -> list[dict[str, str]]:
    """Ranges in order, cut into at most ``max_map_length`` groups of near-equal size. A group of
    neighbouring ranges also carries its token interval (checked when resolved); a group with gaps
    (a selection) is named by its ids only."""
    groups = len(plan) if not max_map_length or len(plan) <= max_map_length else max_map_length
    out: list[dict[str, str]] = []
    for g in range(groups):
        members = plan[(len(plan) * g) // groups : (len(plan) * (g + 1)) // groups]
        descriptor = {"range_id": ",".join(r.id for r in members)}
        if members[-1].index - members[0].index == len(members) - 1:  # sorted, unique: no gap
            descriptor.update(start=str(members[0].tokens.start), end=str(members[-1].tokens.end))
        out.append(descriptor)
    return out


def resolve_ranges(selection: Any) -> list[PlannedRange] | None:
    """What an operator's ``range_id`` argument names: ``None`` (every range), an id, comma-separated
    ids, a descriptor from :func:`plan_descriptors` (its tokens are checked), or a list of those."""
    if selection is None or selection == "" or selection == []:
        return None
    out: list[PlannedRange] = []
    for item in _flatten(selection):
        if isinstance(item, Mapping):
            ranges = [range_by_id(x.strip()) for x in str(item["range_id"]).split(",") if x.strip()]
            if "start" in item and "end" in item:
                expected = (ranges[0].tokens.start, ranges[-1].tokens.end)
                got = (int(item["start"]), int(item["end"]))
                if got != expected:
                    raise ValueError(
                        f"range descriptor {item['range_id']!r} says ({got[0]}, {got[1]}] but the plan "
                        f"gives ({expected[0]}, {expected[1]}]"
                    )
            out.extend(ranges)
        else:
            out.extend(range_by_id(x.strip()) for x in str(item).split(",") if x.strip())
    counts = {r.count for r in out}
    if len(counts) > 1:
        raise ValueError(f"range ids from different plans: {', '.join(r.id for r in out)}")
    return out


def _flatten(selection: Any) -> Iterable[Any]:
    if isinstance(selection, (str, Mapping)):
        yield selection
        return
    for item in selection:
        yield from _flatten(item)


def label(ranges: list[PlannedRange] | None) -> str:
    """A short, readable name for a selection (map index label, XCom ``range_id``)."""
    if ranges is None:
        return "all"
    if len(ranges) <= 3:
        return ",".join(r.id for r in ranges)
    return f"{ranges[0].id}..{ranges[-1].id} ({len(ranges)} ranges)"
