"""What every cassandra-bulk operator shares: table and connection arguments, kill handling, logs.

No I/O happens in ``__init__`` (it runs at every DAG parse); the Cassandra connection is opened
in ``execute`` and shut down afterwards, or by :meth:`on_kill`, which shuts the driver cluster
down so in-flight queries stop instead of running on after the task was killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook
from airflow_provider_cassandra_bulk.ranges import label, resolve_ranges
from cassandra_bulk_core.events import Listener, RangeEvent

RANGE_CONTEXT_KEY = "cassandra_bulk_range"
"""Set in the task context by the range operators; a mapped instance is named by it unless the DAG
sets its own ``map_index_template``."""

DEFAULT_MAP_INDEX_TEMPLATE = "{{ " + RANGE_CONTEXT_KEY + " }}"
"""``r03-of-16`` (or ``r00-of-2048,r01-of-2048`` for a group) instead of a bare map index."""


class TaskKilled(AirflowException):
    """The task was killed while the engine was running (``on_kill``)."""


@dataclass(frozen=True)
class SourceTable:
    """What lineage needs to know about the Cassandra table an operator read (recorded in ``execute``)."""

    namespace: str
    """``cassandra://host:port`` (the first contact point), as OpenLineage names Cassandra."""
    keyspace: str
    table: str
    columns: tuple[tuple[str, str], ...]
    """(name, CQL type) in table order."""

    @property
    def name(self) -> str:
        return f"{self.keyspace}.{self.table}"


class TaskLogListener(Listener):
    """Engine events → the task log (one line per range, plus start and finish)."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def on_start(self, operation_id: str, total_ranges: int, info: dict[str, Any]) -> None:
        details = " ".join(f"{k}={v}" for k, v in info.items())
        self.log.info("cassandra-bulk %s started: %d range(s) %s", operation_id, total_ranges, details)

    def on_range_finished(self, event: RangeEvent) -> None:
        what = "skipped (already done)" if event.skipped else "finished"
        self.log.info(
            "range %s %s: %d rows, %d bytes, %d file(s) in %.1fs",
            event.range_id,
            what,
            event.rows,
            event.bytes,
            event.files,
            event.seconds,
        )

    def on_range_failed(self, event: RangeEvent) -> None:
        self.log.error("range %s failed after %d rows: %s", event.range_id, event.rows, event.error)

    def on_finish(self, summary: dict[str, Any]) -> None:
        self.log.info("cassandra-bulk finished: %s", summary)


class CassandraBulkBaseOperator(BaseOperator):
    """Shared arguments: which table, which connection, how to scan.

    Subclasses call :meth:`_resolve` inside ``with self._connected():`` so the driver cluster is
    always shut down, and a kill turns the engine's resulting error into :class:`TaskKilled`.
    """

    def __init__(
        self,
        *,
        table: str,
        keyspace: str | None = None,
        cassandra_conn_id: str = CassandraBulkHook.default_conn_name,
        splits: int | str = 16,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        streams: int = 4,
        range_workers: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.keyspace = keyspace
        self.cassandra_conn_id = cassandra_conn_id
        self.splits = splits
        self.columns = columns
        self.page_size = page_size
        self.streams = streams
        self.range_workers = range_workers
        self._hook: CassandraBulkHook | None = None
        self._killed = False
        self._source: SourceTable | None = None
        self._scan_cancel: Any = None  # a threading.Event made in execute (an Event does not deep-copy)

    @property
    def hook(self) -> CassandraBulkHook:
        if self._hook is None:
            self._hook = CassandraBulkHook(cassandra_conn_id=self.cassandra_conn_id)
        return self._hook

    @contextlib.contextmanager
    def _connected(self) -> Any:
        """Close the driver cluster on the way out; report a kill as a kill, not as a scan error."""
        try:
            yield
        except TaskKilled:
            raise
        except Exception as exc:
            if self._killed:
                raise TaskKilled(f"{self.task_id}: killed while working on {self.table}") from exc
            if _terminal(exc):  # bad options or bad data: a retry meets the same error
                raise _fail_exception()(f"{self.task_id}: {exc}") from exc
            raise
        finally:
            self.hook.close()

    def _resolve(self) -> Any:
        """Connect and resolve the table; returns ``(cluster, session, TableInfo)``."""
        from cassandra_bulk_core.table import parse_qualified, resolve_table

        ks, tbl = parse_qualified(self.table, self.keyspace or self.hook.default_keyspace)
        if self._killed:  # killed before connecting: do not open a connection on_kill cannot see
            raise TaskKilled(f"{self.task_id}: killed before connecting")
        cluster, session = self.hook.get_conn()
        info = resolve_table(cluster, ks, tbl)
        self._source = SourceTable(
            namespace=self.hook.lineage_namespace,
            keyspace=info.keyspace,
            table=info.table,
            columns=tuple((name, col.cql_type) for name, col in info.metadata.columns.items()),
        )
        return cluster, session, info

    def _scan_options(self) -> Any:
        import threading

        from cassandra_bulk_core.scan import ScanOptions

        config = self.hook.get_connection_config()
        self._scan_cancel = threading.Event()
        if self._killed:
            self._scan_cancel.set()
        return ScanOptions(
            cancel=self._scan_cancel,
            columns=tuple(self.columns) if self.columns else None,
            page_size=self.page_size or self.hook.page_size or 5000,
            streams=self.streams,
            consistency=config.consistency,
            request_timeout=config.request_timeout,
            local_dc=config.local_dc,
        )

    def _export_options(self, ranges: Any, destination: str = "", **extra: Any) -> Any:
        from cassandra_bulk_core.export import ExportOptions

        splits = ranges[0].count if ranges else int(self.splits)
        only = tuple(r.id for r in ranges) if ranges else None
        return ExportOptions(
            destination=destination,
            splits=splits,
            only_ranges=only,
            range_workers=self.range_workers,
            scan=self._scan_options(),
            **extra,
        )

    def _selection(self, context: Any, range_id: Any) -> Any:
        """The planned ranges ``range_id`` names (``None``: all), published for the map index label."""
        ranges = resolve_ranges(range_id)
        with contextlib.suppress(TypeError):  # a read-only context
            context[RANGE_CONTEXT_KEY] = label(ranges)
            mapped = getattr(context.get("ti"), "map_index", -1) >= 0
            if mapped and context.get("map_index_template") is None:
                # Airflow renders the map index from the context after execute; an operator
                # argument would not do, since .partial() never calls __init__ with it.
                context["map_index_template"] = DEFAULT_MAP_INDEX_TEMPLATE
        return ranges

    def on_kill(self) -> None:
        """Cancel the engine's scan (its streams stop within a poll) and shut the driver cluster down:
        every in-flight query fails at once and nothing is retried."""
        self._killed = True
        if self._scan_cancel is not None:
            self._scan_cancel.set()
        if self._hook is not None:
            self.log.warning("killed: shutting down the Cassandra connection of %s", self.task_id)
            self._hook.close()


def run_date(value: Any, context: Any) -> dt.date:
    """An explicit date (``"{{ ds }}"`` rendered, a date) or else the run's logical date, else today (UTC)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if value:
        return dt.date.fromisoformat(str(value)[:10])
    ds = context.get("ds") if isinstance(context, Mapping) else None
    if ds:
        return dt.date.fromisoformat(str(ds))
    return dt.datetime.now(dt.timezone.utc).date()


class IcebergTargetMixin:
    """Iceberg catalog arguments (shared by export and verify)."""

    warehouse: str
    iceberg_table: str | None
    catalog_name: str
    catalog_properties: Mapping[str, str] | None
    mode: str

    def _lineage_catalog(self) -> Mapping[str, str] | None:
        from airflow_provider_cassandra_bulk.lineage import run_catalog_properties

        return run_catalog_properties(self.catalog_name, self.catalog_properties, str(self.warehouse))

    def _iceberg_options(self, export_date: dt.date | None, **extra: Any) -> Any:
        from cassandra_bulk_core.iceberg import IcebergOptions

        return IcebergOptions(
            table=self.iceberg_table,
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.catalog_properties or {}),
            warehouse=str(self.warehouse),
            mode=self.mode,
            export_date=export_date,
            **extra,
        )


def _terminal(exc: BaseException) -> bool:
    """An engine error that says running the task again cannot succeed."""
    from cassandra_bulk_core.errors import BulkError

    return isinstance(exc, BulkError) and not exc.transient


def _fail_exception() -> type[Exception]:
    """Airflow's "fail without retry" exception (the extra requires Airflow 3: ``airflow.sdk``)."""
    return AirflowFailException
