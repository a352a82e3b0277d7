"""Native page decoding: a RESULT page's row bytes straight into Arrow arrays.

The compiled module ``cassandra_bulk_native`` (the ``native/`` distribution of this repository,
Rust with pyo3) parses a page's rows into Arrow buffers; no Python object is made per cell.
:mod:`.decode` calls it from the protocol handler it installs, when the statement decodes with
:class:`~.decode.ExactMetadata`, the module imports and ``CASSANDRA_BULK_NATIVE`` is not ``0``.
The page then arrives at the scan as a :class:`NativePage` (the driver's ``tuple_factory`` passes
parsed rows through, as it does for the driver's own NumPy handler's dict of arrays).

Covered natively, with exactly the values of the exact Python path (:mod:`.decode` then
:func:`~.arrow.arrow_column`), EMPTY values counted per column the same way:

* every scalar type (``counter`` too);
* ``list``/``map`` of scalars, ``set`` of scalars whose server order is Python's sort order
  (integers, text, ascii, blob, boolean, timestamp, date, time: the driver re-sorts sets);
* ``vector<float|int|bigint|double, n>``.

Every other column (UDTs, tuples, nested collections, custom types, sets of floats, uuids,
varints, decimals or inets) is a *fallback* column: its cells are copied as they are into a
small RESULT body that the driver's own row parser decodes with the exact classes, today's path
exactly. A page the parser refuses (a value of the wrong length, invalid UTF-8, ...) is decoded
the driver's way as a whole, so correctness never depends on what is covered here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from .tree import CqlType, ListType, MapType, NativeType, SetType, VectorType

ENV = "CASSANDRA_BULK_NATIVE"
"""Set to ``0`` (or ``false``/``no``/``off``) to decode every page with the driver instead."""

_LEAF: dict[str, int] = {
    "tinyint": 1,
    "smallint": 2,
    "int": 3,
    "bigint": 4,
    "counter": 4,
    "float": 5,
    "double": 6,
    "boolean": 7,
    "timestamp": 8,
    "date": 9,
    "time": 10,
    "uuid": 11,
    "timeuuid": 11,
    "text": 12,
    "ascii": 13,
    "blob": 14,
    "varint": 15,
    "decimal": 16,
    "inet": 17,
    "duration": 18,
}
# The driver turns a set into a sortedset of the decoded values: its order is the server's only
# where the wire comparator and Python's ordering of the exact values agree.
_SET_SAFE = frozenset(
    {"tinyint", "smallint", "int", "bigint", "text", "ascii", "blob", "boolean", "timestamp", "date", "time"}
)
_VECTOR = frozenset({"float", "int", "bigint", "double"})

SCALAR, LIST, SET, MAP, VECTOR, FALLBACK = range(6)
Spec = tuple[int, int, int, int]

_module: Any = None
_import_failed = False


def module() -> Any:
    """The compiled module, or None when it cannot be imported (then every page goes the
    driver's way)."""
    global _module, _import_failed
    if _module is None and not _import_failed:
        try:
            import cassandra_bulk_native

            _module = cassandra_bulk_native
        except ImportError:
            _import_failed = True
    return _module


def enabled() -> bool:
    """Native decoding is on: the module imports and ``CASSANDRA_BULK_NATIVE`` is not off."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return module() is not None


def column_spec(t: CqlType) -> Spec:
    """How the native parser reads a column of type ``t`` (``FALLBACK``: the driver does)."""
    if isinstance(t, NativeType):
        return (SCALAR, _LEAF[t.name], 0, 0) if t.name in _LEAF else (FALLBACK, 0, 0, 0)
    if isinstance(t, ListType) and isinstance(t.element, NativeType) and t.element.name in _LEAF:
        return (LIST, _LEAF[t.element.name], 0, 0)
    if isinstance(t, SetType) and isinstance(t.element, NativeType) and t.element.name in _SET_SAFE:
        return (SET, _LEAF[t.element.name], 0, 0)
    if (
        isinstance(t, MapType)
        and isinstance(t.key, NativeType)
        and isinstance(t.value, NativeType)
        and t.key.name in _LEAF
        and t.value.name in _LEAF
    ):
        return (MAP, _LEAF[t.key.name], _LEAF[t.value.name], 0)
    if isinstance(t, VectorType) and isinstance(t.element, NativeType) and t.element.name in _VECTOR:
        return (VECTOR, _LEAF[t.element.name], 0, t.dimension)
    return (FALLBACK, 0, 0, 0)


class NativePlan:
    """Per result column: the parser spec and the Arrow type its arrays are built as.

    :param types: the CQL type of every result column; :param arrow_types: their Arrow types
        (:func:`~.arrow.column_type_of` with ``exact=True``)."""

    def __init__(self, types: Sequence[CqlType], arrow_types: Sequence[pa.DataType]):
        self.specs: list[Spec] = [column_spec(t) for t in types]
        self.arrow_types = list(arrow_types)
        self.fallback_columns = [i for i, s in enumerate(self.specs) if s[0] == FALLBACK]

    def parse(self, body: bytes, decode_fallback: Callable[[bytes, list[int]], list[tuple[Any, ...]]]) -> NativePage:
        """The rows part of a RESULT body (``int32 count`` then the cells) as a page.

        ``decode_fallback(body, columns)`` decodes a no-metadata RESULT body holding the given
        columns' cells the driver's way and returns its rows."""
        rows, parsed, fallback = module().parse_rows(body, self.specs)
        arrays: list[pa.Array | None] = []
        empties: list[memoryview | None] = []
        for t, col in zip(self.arrow_types, parsed, strict=True):
            if col is None:
                arrays.append(None)
                empties.append(None)
                continue
            node, empty_rows = col
            arrays.append(_array(t, node))
            empties.append(None if empty_rows is None else memoryview(empty_rows).cast("I"))
        values: dict[int, Sequence[Any]] = {}
        if fallback is not None:
            decoded = decode_fallback(fallback, self.fallback_columns)
            columns = list(zip(*decoded, strict=True)) if decoded else [() for _ in self.fallback_columns]
            values = dict(zip(self.fallback_columns, columns, strict=True))
        return NativePage(rows, arrays, empties, values)


class NativePage:
    """One page decoded natively: an Arrow array per native column (``arrays[i]``, with the rows
    holding EMPTY values in ``empty_rows[i]``, one entry per EMPTY value), and the driver's
    decoded values per fallback column (``values[i]``). Iterating gives row tuples (Arrow's
    Python values: for inspection, not the scan's path)."""

    def __init__(
        self,
        rows: int,
        arrays: list[pa.Array | None],
        empty_rows: list[memoryview | None],
        values: dict[int, Sequence[Any]],
    ):
        self.rows = rows
        self.arrays = arrays
        self.empty_rows = empty_rows
        self.values = values

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        # A generator: the driver calls iter() on every result, which must not convert anything.
        columns = [list(self.values[i]) if a is None else a.to_pylist() for i, a in enumerate(self.arrays)]
        yield from zip(*columns, strict=True) if columns else [()] * self.rows

    def empties(self, i: int, keep: Sequence[bool] | None = None) -> int:
        """EMPTY values of native column ``i`` (in the kept rows only, when ``keep`` is given)."""
        rows = self.empty_rows[i]
        if rows is None:
            return 0
        if keep is None:
            return len(rows)
        return sum(1 for r in rows if keep[r])


def _child_types(t: pa.DataType) -> list[pa.DataType]:
    if pa.types.is_map(t):
        return [pa.struct([t.key_field, t.item_field])]
    if pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        return [t.value_type]
    if pa.types.is_struct(t):
        return [t.field(i).type for i in range(t.num_fields)]
    return []


def _array(t: pa.DataType, node: tuple[int, int, list[bytes | None], list[Any]]) -> pa.Array:
    """The Arrow array of a parsed node (buffers wrapped, not copied)."""
    if isinstance(t, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(t, _array(t.storage_type, node))
    length, nulls, buffers, kids = node
    children = [_array(ct, k) for ct, k in zip(_child_types(t), kids, strict=True)]
    wrapped = [None if b is None else pa.py_buffer(b) for b in buffers]
    return pa.Array.from_buffers(t, length, wrapped, null_count=nulls, children=children or None)
