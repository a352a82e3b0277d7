"""Resolve ``keyspace.table`` against live metadata, with close-match suggestions on typos."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


def quote(name: str) -> str:
    """CQL identifier quoting, as the driver does it (only when needed)."""
    from cassandra.metadata import protect_name

    return str(protect_name(name))


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True)
class TableInfo:
    """What the engine needs from a table's metadata."""

    keyspace: str
    table: str
    partition_key: tuple[str, ...]
    clustering_key: tuple[str, ...]
    columns: tuple[str, ...]
    metadata: Any  # cassandra.metadata.TableMetadata (or MaterializedViewMetadata)
    view_of: str | None = None
    """For a materialized view: its base table (``ks.t``). A view can be scanned, never written."""
    virtual: bool = False
    """A table of a virtual keyspace (``system_views``): read-only, served by the node itself."""

    @property
    def qualified(self) -> str:
        return f"{quote(self.keyspace)}.{quote(self.table)}"

    @property
    def token_expr(self) -> str:
        return f"token({', '.join(quote(c) for c in self.partition_key)})"

    def check_writable(self) -> None:
        """Refuse, before any write, a target Cassandra would refuse row by row (a view, a
        virtual table, the schema tables): one clear line instead of every record rejected."""
        if self.view_of is not None:
            raise ConfigError(
                f"{self.keyspace}.{self.table} is a materialized view of {self.view_of}; load into the base table"
            )
        if self.virtual:
            raise ConfigError(f"{self.keyspace}.{self.table} is a virtual table (read-only); it cannot be loaded")
        if self.keyspace in _READ_ONLY_KEYSPACES:
            raise ConfigError(
                f"{self.keyspace}.{self.table} is a system table managed by Cassandra; it cannot be loaded"
            )


_READ_ONLY_KEYSPACES = frozenset({"system", "system_schema", "system_virtual_schema", "system_views"})


def resolve_table(cluster: Any, keyspace: str, table: str) -> TableInfo:
    """Look the table up in the driver's schema metadata; a one-line error if it is not there."""
    # Always read the table's current definition: schema events lag behind a change made a moment
    # ago (or by another client), and a long-lived process (an orchestrator worker) must not scan
    # with a dropped column.
    keyspaces = cluster.metadata.keyspaces
    try:
        if keyspace in keyspaces and table in keyspaces[keyspace].tables:
            cluster.refresh_table_metadata(keyspace, table)
        elif keyspace in keyspaces and table in keyspaces[keyspace].views:
            cluster.refresh_materialized_view_metadata(keyspace, table)
        else:
            cluster.refresh_schema_metadata()
    except Exception:  # a failed refresh leaves the metadata we have; the lookups below decide
        pass
    keyspaces = cluster.metadata.keyspaces
    if keyspace not in keyspaces:
        user = [k for k in keyspaces if not k.startswith("system")]
        raise ConfigError(
            f"keyspace {keyspace!r} does not exist{_suggest(keyspace, list(keyspaces))}"
            + ("" if user else " (no user keyspaces found)")
        )
    ks = keyspaces[keyspace]
    tables = ks.tables
    views = getattr(ks, "views", {}) or {}
    if table in tables:
        meta = tables[table]
        view_of = None
    elif table in views:
        # A materialized view scans like a table (same partitioning, same token ranges); only
        # writes are refused (TableInfo.check_writable).
        meta = views[table]
        view_of = f"{keyspace}.{meta.base_table_name}"
    else:
        raise ConfigError(f"table {keyspace}.{table} does not exist{_suggest(table, list(tables) + list(views))}")
    return TableInfo(
        keyspace=keyspace,
        table=table,
        partition_key=tuple(c.name for c in meta.partition_key),
        clustering_key=tuple(c.name for c in meta.clustering_key),
        columns=tuple(meta.columns),
        metadata=meta,
        view_of=view_of,
        virtual=bool(getattr(ks, "virtual", False)),
    )


def parse_qualified(name: str, keyspace: str | None = None) -> tuple[str, str]:
    """``ks.tbl`` or ``tbl`` with a default keyspace."""
    if "." in name:
        ks, _, tbl = name.partition(".")
        return ks, tbl
    if not keyspace:
        raise ConfigError(f"table {name!r} needs a keyspace: write ks.{name} or pass -k/--keyspace")
    return keyspace, name
