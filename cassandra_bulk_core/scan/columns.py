"""Which columns carry write times, and the one line that reports EMPTY values (never silent)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..table import TableInfo
from ..types.tree import CqlType, parse


def writetime_columns(
    table: TableInfo, columns: Sequence[str], types: Mapping[str, CqlType] | frozenset[str] = frozenset()
) -> list[str]:
    """Columns Cassandra gives ``writetime()``/``ttl()`` for: regular and static ones, but not counters,
    and not non-frozen collections or UDTs (one cell per element, so no single write time).

    :param types: the columns' type trees, or just the keyspace's UDT names (then each column's
        declared type is parsed, which is all the frozen/multi-cell question needs)."""
    if not isinstance(types, Mapping):
        udt_names = types

        def opaque_udt(name: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
            return ((), ()) if name in udt_names else None

        types = {c: parse(str(table.metadata.columns[c].cql_type), table.keyspace, opaque_udt) for c in columns}
    keys = set(table.partition_key) | set(table.clustering_key)
    return [name for name in columns if name not in keys and types[name].cql != "counter" and not types[name].multicell]


def empty_values_message(counts: Mapping[str, int], table: str) -> str:
    """One line for EMPTY values exported as null (Arrow, Parquet, Iceberg and the text formats
    have no form for a zero-length int/timestamp/uuid/...): never silent."""
    total = sum(counts.values())
    detail = ", ".join(f"{c}: {n}" for c, n in sorted(counts.items()))
    return (
        f"{total} EMPTY (zero-length) value(s) of {table} exported as null ({detail}); "
        "the target format has no empty form for these types"
    )
