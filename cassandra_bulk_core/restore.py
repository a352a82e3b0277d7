"""The write time of a restore (Iceberg → Cassandra): one rule for the CLI and both adapters.

A restore should write each cell with the time of the snapshot it reads (the snapshot's commit
time): re-running a range, or all of them, then rewrites the same cells at the same time, and a
newer write made in Cassandra since is never overwritten by an older copy. One type breaks that:
a non-frozen ``list`` names each element by a time UUID made at write time, so writing it again
with the same timestamp *appends* a second copy. Tables with such columns are restored with the
load's own (new) timestamp instead, which replaces each list; the write times then change, and the
run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .types.tree import CqlType, ListType

POLICIES = ("snapshot", "operation")


@dataclass(frozen=True)
class RestoreWriteTime:
    """What a restore writes with: ``timestamp`` in epoch microseconds, or None for the load's
    own operation timestamp; ``notice`` is a line to log (``warning`` says at which level)."""

    policy: str
    timestamp: int | None
    notice: str | None = None
    warning: bool = False


def non_frozen_lists(types: Mapping[str, CqlType]) -> list[str]:
    """Columns whose same-timestamp rewrite appends instead of replacing."""
    return sorted(name for name, t in types.items() if isinstance(t, ListType) and not t.frozen)


def restore_write_time(
    types: Mapping[str, CqlType], requested: int | str | None, snapshot_ms: int | None, table: str
) -> RestoreWriteTime:
    """The rule in the module docstring.

    :param types: the target table's columns as type trees (``types.tree.table_types``).
    :param requested: None (the rule), ``"snapshot"``, ``"operation"`` or epoch microseconds.
    :param snapshot_ms: the commit time of the snapshot read, or None (not an Iceberg source).
    :param table: the target table, for the notice.
    """
    if isinstance(requested, int) and not isinstance(requested, bool):
        return RestoreWriteTime("fixed", requested)
    lists = non_frozen_lists(types)
    if requested is None:
        if snapshot_ms is None:
            return RestoreWriteTime("operation", None)
        if not lists:
            return RestoreWriteTime("snapshot", snapshot_ms * 1000)
        return RestoreWriteTime(
            "operation",
            None,
            f"{table} has non-frozen list column(s) {', '.join(lists)}: writing with the load's own "
            "timestamp, so a re-run replaces each list instead of appending to it (writetimes change)",
        )
    if requested == "snapshot":
        if snapshot_ms is None:
            return RestoreWriteTime("operation", None, "no snapshot to take a write time from", warning=True)
        notice = (
            f"write_timestamp='snapshot' with non-frozen list column(s) {', '.join(lists)}: loading a range "
            "again appends the lists' elements a second time"
            if lists
            else None
        )
        return RestoreWriteTime("snapshot", snapshot_ms * 1000, notice, warning=bool(lists))
    if requested == "operation":
        return RestoreWriteTime("operation", None)
    raise ValueError(f"write time must be one of {', '.join(POLICIES)} or epoch microseconds, got {requested!r}")
