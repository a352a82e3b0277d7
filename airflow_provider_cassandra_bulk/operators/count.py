"""Count rows: the whole table, chosen ranges (mappable like the exports), or a token window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.sdk import Context

from airflow_provider_cassandra_bulk.operators.base import CassandraBulkBaseOperator
from airflow_provider_cassandra_bulk.ranges import label


class CassandraCountOperator(CassandraBulkBaseOperator):
    """Count rows per token range with ``count(*)`` on a replica of each range (engine ``count_table``).

    ``range_id`` picks ranges as in the export operators (``None``: every range of ``splits``), so
    ``.partial(...).expand(range_id=plan.output)`` counts range by range; ``start_token`` and
    ``end_token`` instead count one explicit ``(start, end]`` window (engine ``count_window``).
    Returns ``{"table", "range_id", "rows", "per_range"}`` (``per_range`` empty for a window).
    """

    template_fields: Sequence[str] = (
        "table",
        "keyspace",
        "cassandra_conn_id",
        "range_id",
        "splits",
        "start_token",
        "end_token",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"range_id": "json"}

    def __init__(
        self,
        *,
        range_id: Any = None,
        start_token: int | str | None = None,
        end_token: int | str | None = None,
        concurrency: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.range_id = range_id
        self.start_token = start_token
        self.end_token = end_token
        self.concurrency = concurrency

    def execute(self, context: Context) -> dict[str, Any]:
        from cassandra_bulk_core.count import count_table, count_window
        from cassandra_bulk_core.ring import plan_ranges

        window = self._window()
        ranges = None if window is not None else self._selection(context, self.range_id)
        with self._connected():
            cluster, session, info = self._resolve()
            local_dc = self.hook.get_connection_config().local_dc
            kw: dict[str, Any] = {"concurrency": self.concurrency, "local_dc": local_dc}
            if window is not None:
                rows, per_range = count_window(cluster, session, info, window, **kw), {}
            else:
                result = count_table(cluster, session, info, ranges or plan_ranges(int(self.splits)), **kw)
                rows, per_range = result.total, dict(result.per_range)
        what = f"({window.start}, {window.end}]" if window is not None else label(ranges)
        self.log.info("counted %d rows in %s.%s %s", rows, info.keyspace, info.table, what)
        return {"table": f"{info.keyspace}.{info.table}", "range_id": what, "rows": rows, "per_range": per_range}

    def _window(self) -> Any:
        from cassandra_bulk_core.ring import TokenRange

        if self.start_token in (None, "") and self.end_token in (None, ""):
            return None
        if self.start_token in (None, "") or self.end_token in (None, ""):
            raise ValueError("give both start_token and end_token, or neither")
        if self.range_id is not None:
            raise ValueError("give either range_id or a token window, not both")
        return TokenRange(int(str(self.start_token)), int(str(self.end_token)))
