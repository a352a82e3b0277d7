"""``--resume`` for Iceberg exports: which planned ranges an earlier run of the same export kind
already committed, read from the snapshot summaries every range commit carries."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..export import ExportOptions
from ..ring import PlannedRange
from .options import PROP_PREFIX, IcebergOptions

PLAN = f"{PROP_PREFIX}plan"
EXPORT_DATE = f"{PROP_PREFIX}export-date"


def plan_key(options: ExportOptions) -> str:
    """What makes range ids mean the same tokens: the number of splits and the token window."""
    return f"{options.splits}:{options.window.start}:{options.window.end}"


def resume_properties(options: ExportOptions, iceberg: IcebergOptions) -> dict[str, str]:
    """Summary properties a later ``--resume`` matches: the plan, and the export date (every mode)."""
    return {PLAN: plan_key(options), EXPORT_DATE: iceberg.date.isoformat()}


def committed_ranges(
    table: Any, source: str, options: ExportOptions, iceberg: IcebergOptions, plan: list[PlannedRange]
) -> dict[str, int]:
    """Planned range id → rows, for ranges whose latest commit in the current snapshot's history was
    made by a range commit of the same source, mode, plan and export date (any operation id, so a
    resume of a resume works). A range replaced since by anything else is done again."""
    if iceberg.mode not in ("mirror", "daily"):
        raise ConfigError(
            f"--resume applies to Iceberg modes mirror and daily, not {iceberg.mode}: "
            f"{'single commits once for all ranges' if iceberg.mode == 'single' else 'incremental merges'}; "
            "run it again without --resume"
        )
    wanted = {r.id for r in plan}
    expected = {
        f"{PROP_PREFIX}source": source,
        f"{PROP_PREFIX}mode": iceberg.mode,
        PLAN: plan_key(options),
        EXPORT_DATE: iceberg.date.isoformat(),
    }
    done: dict[str, int] = {}
    seen: set[str] = set()
    snapshot = table.current_snapshot()
    while snapshot is not None and seen != wanted:
        props = snapshot.summary.additional_properties if snapshot.summary else {}
        rid = props.get(f"{PROP_PREFIX}ranges")
        if rid in wanted and rid not in seen:
            seen.add(rid)  # only its latest commit counts
            if all(props.get(k) == v for k, v in expected.items()):
                done[rid] = int(props.get(f"{PROP_PREFIX}rows", "0"))
        elif rid is not None and rid not in wanted and f"{PROP_PREFIX}ranges" in props and " ranges" in rid:
            break  # a single-mode commit replaced everything before it
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return done
