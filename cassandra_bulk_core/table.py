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
    metadata: Any  # cassandra.metadata.TableMetadata

    @property
    def qualified(self) -> str:
        return f"{quote(self.keyspace)}.{quote(self.table)}"

    @property
    def token_expr(self) -> str:
        return f"token({', '.join(quote(c) for c in self.partition_key)})"


def resolve_table(cluster: Any, keyspace: str, table: str) -> TableInfo:
    """Look the table up in the driver's schema metadata; a one-line error if it is not there."""
    # Always read the table's current definition: schema events lag behind a change made a moment
    # ago (or by another client), and a long-lived process (an orchestrator worker) must not scan
    # with a dropped column.
    keyspaces = cluster.metadata.keyspaces
    try:
        if keyspace in keyspaces and table in keyspaces[keyspace].tables:
            cluster.refresh_table_metadata(keyspace, table)
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
    tables = keyspaces[keyspace].tables
    if table not in tables:
        raise ConfigError(f"table {keyspace}.{table} does not exist{_suggest(table, list(tables))}")
    meta = tables[table]
    return TableInfo(
        keyspace=keyspace,
        table=table,
        partition_key=tuple(c.name for c in meta.partition_key),
        clustering_key=tuple(c.name for c in meta.clustering_key),
        columns=tuple(meta.columns),
        metadata=meta,
    )


def parse_qualified(name: str, keyspace: str | None = None) -> tuple[str, str]:
    """``ks.tbl`` or ``tbl`` with a default keyspace."""
    if "." in name:
        ks, _, tbl = name.partition(".")
        return ks, tbl
    if not keyspace:
        raise ConfigError(f"table {name!r} needs a keyspace: write ks.{name} or pass -k/--keyspace")
    return keyspace, name
