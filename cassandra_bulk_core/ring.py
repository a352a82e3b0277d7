"""Murmur3 ring math in one place: stable range planning, window cuts, sub-splits, replica lookup.

A planned range's identity is ``(count, index)`` only: range ``i`` of ``N`` is the i-th equal slice of
the full ring, whatever the cluster's topology. That is what lets it serve as a Dagster partition key
or an Airflow map index that means the same rows on every run. Topology enters later and only to
cut a range at vnode boundaries so that each sub-query is served by one replica set.

Ranges are ``(start, end]``. The Murmur3 partitioner never gives a key the minimum token (it maps
``Long.MIN_VALUE`` to ``Long.MAX_VALUE``), but a range starting at ``MIN_TOKEN`` still includes it
so that the union of all ranges is provably the whole ring.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MIN_TOKEN = -(2**63)
MAX_TOKEN = 2**63 - 1
RING_SIZE = 2**64


@dataclass(frozen=True, order=True)
class TokenRange:
    """Tokens ``start < t <= end``; ``start == MIN_TOKEN`` also includes ``MIN_TOKEN`` itself."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (MIN_TOKEN <= self.start < self.end <= MAX_TOKEN):
            raise ValueError(
                f"token range ({self.start}, {self.end}] must satisfy "
                f"{MIN_TOKEN} <= start < end <= {MAX_TOKEN} (a wrapping window is two ranges)"
            )

    @property
    def includes_start(self) -> bool:
        return self.start == MIN_TOKEN

    @property
    def size(self) -> int:
        """How many tokens the range covers."""
        return self.end - self.start + (1 if self.includes_start else 0)

    def __contains__(self, token: object) -> bool:
        if not isinstance(token, int):
            return False
        return (self.start < token or (self.includes_start and token == MIN_TOKEN)) and token <= self.end

    def intersect(self, other: TokenRange) -> TokenRange | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return TokenRange(start, end) if start < end else None

    def split_at(self, tokens: Iterable[int]) -> list[TokenRange]:
        """Cut at every given token strictly inside the range (cut points become range ends)."""
        cuts = sorted({t for t in tokens if self.start < t < self.end})
        bounds = [self.start, *cuts, self.end]
        return [TokenRange(a, b) for a, b in itertools.pairwise(bounds)]

    def split_evenly(self, parts: int) -> list[TokenRange]:
        """At most ``parts`` near-equal pieces (fewer when the range has fewer tokens)."""
        parts = max(1, min(parts, self.end - self.start))
        span = self.end - self.start
        cuts = [self.start + (span * i) // parts for i in range(1, parts)]
        return self.split_at(cuts)

    def to_dict(self) -> dict[str, str]:
        """Tokens as strings: 64-bit integers do not survive JSON numbers in every consumer."""
        return {"start": str(self.start), "end": str(self.end)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenRange:
        return cls(int(data["start"]), int(data["end"]))


FULL_RING = TokenRange(MIN_TOKEN, MAX_TOKEN)


@dataclass(frozen=True)
class PlannedRange:
    """Range ``index`` of ``count`` equal slices of the ring (or of an explicit window)."""

    index: int
    count: int
    tokens: TokenRange

    @property
    def id(self) -> str:
        """Stable, sortable and safe as a Dagster partition key or a file name (no ``.,|/``)."""
        width = len(str(self.count - 1))
        return f"r{self.index:0{width}d}-of-{self.count}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "index": self.index, "count": self.count, **self.tokens.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedRange:
        return cls(int(data["index"]), int(data["count"]), TokenRange.from_dict(data))


def plan_ranges(count: int, window: TokenRange = FULL_RING) -> list[PlannedRange]:
    """Split ``window`` (the whole ring by default) into ``count`` equal, contiguous ranges.

    Depends on nothing but its arguments, so every run, every worker and every orchestrator
    computes the same ranges.
    """
    if count < 1:
        raise ValueError(f"split count must be >= 1, got {count}")
    if count > window.end - window.start:
        raise ValueError(f"cannot split a window of {window.size} tokens into {count} non-empty ranges")
    # Cutting by the token count (2**64 for the full ring) puts full-ring boundaries on round numbers.
    bounds = [window.start + (window.size * i) // count for i in range(count)] + [window.end]
    return [PlannedRange(i, count, TokenRange(bounds[i], bounds[i + 1])) for i in range(count)]


def range_by_id(range_id: str) -> PlannedRange:
    """Inverse of :attr:`PlannedRange.id` for full-ring plans (``r03-of-16`` → range 3 of 16)."""
    try:
        head, count = range_id.split("-of-")
        index, n = int(head.removeprefix("r")), int(count)
    except ValueError as exc:
        raise ValueError(f"not a range id: {range_id!r} (expected e.g. 'r03-of-16')") from exc
    if not 0 <= index < n:
        raise ValueError(f"range id {range_id!r}: index {index} is outside 0..{n - 1}")
    return plan_ranges(n)[index]


def vnode_cuts(tokens: TokenRange, ring: Sequence[int]) -> list[TokenRange]:
    """Cut ``tokens`` at the ring's tokens so each piece lies inside one vnode range.

    A piece ``(a, b]`` then belongs to the vnode ending at the first ring token ``>= b``
    (wrapping to the first ring token), whose replicas serve the whole piece.
    """
    return tokens.split_at(ring)


def owning_ring_token(token: int, ring: Sequence[int]) -> int:
    """The ring token whose vnode ``(prev, t]`` holds ``token``; ``ring`` must be sorted."""
    i = bisect.bisect_left(ring, token)
    return ring[i] if i < len(ring) else ring[0]
