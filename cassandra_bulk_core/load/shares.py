"""One worker process's share of a load in several (see :mod:`.processes`): which blocks it loads.

Every worker reads every resource, in order, the way one process would; the reader delimits the
same blocks for all of them (a CSV block, a Parquet or Iceberg record batch, a JSON Lines chunk:
the boundaries depend on the data and the options, never on the checkpoint), and asks before
converting each block whether to skip it. Block ``j`` of resource ``i`` (``j`` counted over every
block the reader delimits, skipped or not) belongs to worker ``(i + j) % n``: a large file's blocks
go round the workers, and so do the files of a directory of small ones. Because the count restarts
with each resource, a resumed run gives every block to the same worker as the run it resumes,
even when whole resources are skipped as finished.

A worker converts and sends only its own blocks, but it sees the others' go by: positions (each
record's write time is the operation timestamp + its position in the whole load) advance over them,
so every record is written at the time one process would write it, whichever worker sends it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Share:
    """Worker ``index`` of ``count``, and what its parent fixed for it (plain data: it is pickled)."""

    index: int
    count: int
    directory: str = ""
    """The worker's own directory (checkpoint, rejects, summary) under the operation's."""
    start: str = ""
    """The checkpoint the worker starts from, written by the parent: a new one with the load's
    operation timestamp, or the run it resumes (its workers' checkpoints merged)."""
    resumed_from: str | None = None
    jsonl_fields: list[str] | None = None
    """JSON Lines sources: every field, found by the parent (the files are not read again for them)."""

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"share {self.index} of {self.count}")

    @property
    def id(self) -> str:
        return f"worker-{self.index}-of-{self.count}"

    def owns(self, resource_index: int, block: int) -> bool:
        """Whether block ``block`` (0-based, counted in its resource) of the resource at
        ``resource_index`` (its place in the sorted file list; 0 for an Iceberg table) is this worker's."""
        return (resource_index + block) % self.count == self.index

    def owner(self, resource_index: int, seen: Callable[[int], None] | None = None) -> Callable[[int, int], bool]:
        """The per-block predicate for one resource: called once per block, in order, with its
        ordinals ``[first, end)``; ``seen(end)`` is told every block's end, this worker's or not."""
        blocks = itertools.count()

        def owns(_first: int, end: int) -> bool:
            if seen is not None:
                seen(end)
            return self.owns(resource_index, next(blocks))

        return owns

    def fingerprint(self, load: str) -> str:
        """The fingerprint of this worker's checkpoint: the load's, and the share. A worker's
        checkpoint is never the whole load's, so ``--resume``/``--checkpoint`` cannot take it for one."""
        return hashlib.sha256(f"{load} share {self.index} of {self.count}".encode()).hexdigest()[:16]
