"""The planner: the stable range plan (or a chosen part of it) as descriptors to ``.expand`` over."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from airflow_provider_cassandra_bulk.ranges import DEFAULT_MAX_MAP_LENGTH, group_descriptors, plan_descriptors


def max_map_length() -> int:
    """Airflow's ``[core] max_map_length``, read when the plan runs (a deployment may raise it)."""
    from airflow.sdk import conf

    return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)


def parse_selection(value: Any) -> Any:
    """Ranges as a rendered template may give them: a list, a JSON list, or comma-separated ids."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text.replace("'", '"'))
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class CassandraRangePlanOperator(BaseOperator):
    """Return range descriptors for ``.expand(range_id=plan.output)``, one per mapped instance.

    ``[{"range_id": "r03-of-16", "start": "<token>", "end": "<token>"}, ...]`` with tokens as
    strings. It depends only on ``splits`` (no Cassandra query), so a re-run yields the same list
    and map indexes keep their meaning. ``ranges`` restricts it to chosen ranges (ids, descriptors,
    or a comma-separated string; e.g. ``"{{ dag_run.conf['ranges'] }}"`` for a backfill). With more
    ranges than ``max_map_length`` (default: Airflow's ``[core] max_map_length``), consecutive
    ranges are grouped per descriptor, so the mapped task never exceeds what Airflow accepts.
    """

    template_fields: Sequence[str] = ("splits", "ranges")

    def __init__(
        self,
        *,
        splits: int | str = 16,
        ranges: Any = None,
        max_map_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.splits = splits
        self.ranges = ranges
        self.max_map_length = max_map_length

    def execute(self, context: Context) -> list[dict[str, str]]:
        limit = self.max_map_length or max_map_length()
        if self.ranges is None:
            plan = plan_descriptors(int(self.splits), limit)
        else:
            plan = group_descriptors(parse_selection(self.ranges), limit)
        grouped = "" if len(plan) == sum(len(d["range_id"].split(",")) for d in plan) else f" (max_map_length {limit})"
        self.log.info("planned %d task(s)%s: %s", len(plan), grouped, ", ".join(d["range_id"] for d in plan[:8]))
        return plan
