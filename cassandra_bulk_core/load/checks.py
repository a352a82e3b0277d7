"""Record checks before binding: null primary key columns, static-only rows, null collection elements."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .mapping import _Plan


def _null_element_rows(arr: pa.Array) -> set[int]:
    """Rows of ``arr`` holding a null inside a collection (list or set element, map key or value,
    vector element), at any depth. Cassandra forbids them, and the driver does not refuse them: a
    null element goes out as an empty value or makes the server fail the whole request. UDT and
    tuple fields may be null; collections inside them are checked."""
    if isinstance(arr.type, pa.BaseExtensionType):
        arr = arr.storage
    t = arr.type
    if pa.types.is_map(t):
        entries = pa.list_(pa.struct([t.key_field, t.item_field]))
        as_list = arr.cast(entries)
        children = pc.list_flatten(as_list).flatten()
        parents = pc.list_parent_indices(as_list)
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        children = [pc.list_flatten(arr)]
        parents = pc.list_parent_indices(arr)
    elif pa.types.is_struct(t):
        rows: set[int] = set()
        for child in arr.flatten():
            rows |= _null_element_rows(child)
        return rows
    else:
        return set()
    bad: set[int] = set()
    for child in children:
        if child.null_count:
            bad.update(pc.indices_nonzero(child.is_null()).to_pylist())
        bad |= _null_element_rows(child)
    if not bad:
        return set()
    return set(parents.take(pa.array(sorted(bad), pa.int64())).to_pylist())


def _null_element_problems(batch: pa.RecordBatch, plan: _Plan) -> dict[int, str]:
    """row → reason, for every row with a null collection element (one check per nested column)."""
    bad: dict[int, str] = {}
    for c in plan.columns:
        arr = batch.column(batch.schema.get_field_index(c))
        if not pa.types.is_nested(arr.type) and not isinstance(arr.type, pa.BaseExtensionType):
            continue
        cql = (batch.schema.field(c).metadata or {}).get(b"cql_type", b"").decode() or str(arr.type)
        for r in sorted(_null_element_rows(arr)):
            bad.setdefault(r, f"field {c!r}: null element in {cql} (Cassandra allows no null collection element)")
    return bad


def _key_problems(batch: pa.RecordBatch, plan: _Plan) -> tuple[set[int], dict[int, str]]:
    """(static-only rows, row → reason for rows with a null primary key column).

    A row whose clustering columns are all null is a static-only partition when it sets static
    columns and no other regular column (``INSERT INTO t (k, s) VALUES (1, 'x')``, exported as a row
    with empty clustering columns): it is written as partition key + static columns."""
    names = batch.schema.names
    bad: dict[int, str] = {}
    for c in plan.partition:
        arr = batch.column(names.index(c))
        if arr.null_count:
            for r in pc.indices_nonzero(arr.is_null()).to_pylist():
                bad.setdefault(r, f"primary key column {c!r} is null")
    nulls = {c: batch.column(names.index(c)).is_null() for c in plan.clustering}
    if not any(m.true_count for m in nulls.values()):
        return set(), bad
    any_null = nulls[plan.clustering[0]]
    for c in plan.clustering[1:]:
        any_null = pc.or_(any_null, nulls[c])
    rows = [r for r in pc.indices_nonzero(any_null).to_pylist() if r not in bad]
    take = pa.array(rows, pa.int64())
    null_ck = {c: m.take(take).to_pylist() for c, m in nulls.items()}
    regular = [c for c in plan.columns if c not in plan.keys and c not in plan.static_columns]
    set_regular = {c: batch.column(names.index(c)).is_valid().take(take).to_pylist() for c in regular}
    set_static = {c: batch.column(names.index(c)).is_valid().take(take).to_pylist() for c in plan.static_columns}
    static: set[int] = set()
    for k, r in enumerate(rows):
        missing = [c for c in plan.clustering if null_ck[c][k]]
        reason = f"primary key column {missing[0]!r} is null"
        if len(missing) == len(plan.clustering) and plan.static_columns:
            sets = [c for c in regular if set_regular[c][k]]
            if sets:
                reason += f" and the record sets non-static column(s) {', '.join(sets)}"
            elif any(v[k] for v in set_static.values()):
                static.add(r)
                continue
            else:
                reason += " and the record sets no static column"
        bad[r] = reason
    return static, bad
