"""What each Arrow column is in CQL terms, as far as the text codecs care: one :class:`_Node` per
field (and nested child), its *kind* deciding how values are rendered and parsed.

A field's CQL type comes from its ``cql_type`` metadata, read with the one CQL type parser
(:func:`..types.tree.parse`); :class:`_NodeVisitor` turns that tree into a builder that makes the
node for the Arrow type actually holding the values. The Arrow type decides first (a Parquet file
from another tool may hold a CQL ``decimal`` as an Arrow decimal); the CQL type tells apart what
Arrow cannot (``decimal``/``inet``/``varint`` strings, ``timeuuid``, ``set`` vs ``list``, tuples,
durations). Without metadata the Arrow type decides alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..types.arrow import CQL_TYPE_KEY, DURATION_TYPE
from ..types.tree import (
    CqlType,
    CqlTypeVisitor,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UnknownCqlType,
    UserType,
    VectorType,
    parse,
    visit,
)
from .base import (
    ASCII,
    BLOB,
    BOOLEAN,
    DATE,
    DECIMAL,
    DOUBLE,
    DURATION,
    FLOAT,
    INET,
    INT,
    LIST,
    MAP,
    SET,
    TEXT,
    TIME,
    TIMESTAMP,
    TIMEUUID,
    TUPLE,
    UDT,
    UUID,
    VARINT,
    VECTOR,
)


@dataclass(frozen=True)
class _Node:
    """What one Arrow field (or nested child) is in CQL terms, as far as text rendering cares."""

    kind: str
    cql: str
    arrow: pa.DataType
    children: tuple[_Node, ...] = ()
    names: tuple[str, ...] = ()
    size: int = 0


Builder = Callable[[pa.DataType], _Node]
"""Makes the node of one CQL type for the Arrow type that holds its values."""

_INT_NAMES = {8: "tinyint", 16: "smallint", 32: "int", 64: "bigint"}
_STRING_KINDS = {"decimal": DECIMAL, "inet": INET, "ascii": ASCII, "varint": VARINT}
"""CQL types held as Arrow strings: a varint is unbounded, so it is its decimal digits (an old
export's decimal128(38, 0) varint still reads as VARINT through the decimal branch)."""


def _is_uuid_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"


def _is_binary(t: pa.DataType) -> bool:
    return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t))


_FIXED_KINDS: tuple[tuple[Callable[[pa.DataType], bool], str], ...] = (
    (pa.types.is_decimal, VARINT),
    (pa.types.is_float32, FLOAT),
    (pa.types.is_float64, DOUBLE),
    (pa.types.is_boolean, BOOLEAN),
    (_is_binary, BLOB),
    (pa.types.is_date32, DATE),
    (pa.types.is_time, TIME),
    (pa.types.is_timestamp, TIMESTAMP),
)
"""Arrow types whose kind does not depend on the CQL type (the kind is also the default label)."""


# -- the CQL type tree → node builders ---------------------------------------------------------------


def _label(t: CqlType) -> str:
    """The CQL spelling named in error messages: the type without its outer ``frozen<>``."""
    text = t.cql
    return text[7:-1] if text.startswith("frozen<") and text.endswith(">") else text


def _builder(name: str, t: CqlType, *args: Builder) -> Builder:
    return functools.partial(_build, name=name, label=_label(t), args=args)


class _NodeVisitor(CqlTypeVisitor[Builder]):
    """CQL type tree → :data:`Builder`; children's builders are used where the Arrow type matches."""

    def native(self, t: NativeType) -> Builder:
        return _builder(t.name, t)

    def list(self, t: ListType, element: Builder) -> Builder:
        return _builder(LIST, t, element)

    def set(self, t: SetType, element: Builder) -> Builder:
        return _builder(SET, t, element)

    def map(self, t: MapType, key: Builder, value: Builder) -> Builder:
        return _builder(MAP, t, key, value)

    def tuple(self, t: TupleType, elements: Sequence[Builder]) -> Builder:
        return _builder(TUPLE, t, *elements)

    def udt(self, t: UserType, fields: Sequence[Builder]) -> Builder:
        # A UDT's fields are the Arrow struct's, each with its own metadata (the name is all
        # that the column's metadata says about the type).
        return _builder(t.name, t)

    def vector(self, t: VectorType, element: Builder) -> Builder:
        return _builder(VECTOR, t, element)

    def custom(self, t: CustomType) -> Builder:
        return _builder(t.cql, t)


def _any_udt(name: str) -> tuple[Sequence[str], Sequence[str]]:
    return (), ()  # metadata names a UDT without its fields: the Arrow struct has them


def _tree_builder(cql_text: str | None) -> Builder | None:
    """The builder for a ``cql_type`` metadata text; None when there is none or it is unreadable."""
    if not cql_text:
        return None
    try:
        tree = parse(cql_text, "", _any_udt)
    except UnknownCqlType:
        return None
    return visit(tree, _NodeVisitor())


# -- nodes -------------------------------------------------------------------------------------------


def _field_builder(field: pa.Field) -> Builder | None:
    raw = (field.metadata or {}).get(CQL_TYPE_KEY)
    return _tree_builder(raw.decode()) if raw else None


def _child(field: pa.Field, arg: Builder | None) -> _Node:
    # A child field's own metadata wins; otherwise the argument of the parent's CQL type.
    builder = _field_builder(field) or arg
    return builder(field.type) if builder is not None else _build(field.type)


def _arg(args: Sequence[Builder], i: int, wanted: bool) -> Builder | None:
    return args[i] if wanted and i < len(args) else None


def _scalar(t: pa.DataType, name: str | None, label: str | None) -> _Node | None:
    if _is_uuid_type(t):
        kind = TIMEUUID if name == "timeuuid" else UUID
        return _Node(kind, label or kind, t)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        kind = _STRING_KINDS.get(name or "", TEXT)
        return _Node(kind, label or kind, t)
    if pa.types.is_integer(t):
        return _Node(INT, label or _INT_NAMES.get(t.bit_width, "bigint"), t)
    for test, kind in _FIXED_KINDS:
        if test(t):
            return _Node(kind, label or kind, t)
    return None


def _struct(t: pa.DataType, name: str | None, label: str | None, args: Sequence[Builder]) -> _Node:
    fields = [t.field(i) for i in range(t.num_fields)]
    names = tuple(f.name for f in fields)
    if name == DURATION or (name is None and t == DURATION_TYPE):
        return _Node(DURATION, "duration", t)
    if name == TUPLE or (name is None and names == tuple(f"f{i}" for i in range(len(names)))):
        kids = tuple(_child(f, _arg(args, i, name == TUPLE)) for i, f in enumerate(fields))
        return _Node(TUPLE, label or f"tuple<{', '.join(k.cql for k in kids)}>", t, kids, names)
    kids = tuple(_child(f, None) for f in fields)
    return _Node(UDT, label or "udt", t, kids, names)


def _build(t: pa.DataType, name: str | None = None, label: str | None = None, args: Sequence[Builder] = ()) -> _Node:
    """The node for Arrow type ``t`` holding CQL type ``name`` (None: unknown, the Arrow type
    decides alone); ``args`` build the CQL type's children (collection elements, tuple fields)."""
    node = _scalar(t, name, label)
    if node is not None:
        return node
    if pa.types.is_struct(t):
        return _struct(t, name, label, args)
    if pa.types.is_map(t):
        key = _child(t.key_field, _arg(args, 0, name == MAP))
        item = _child(t.item_field, _arg(args, 1, name == MAP))
        return _Node(MAP, label or f"map<{key.cql}, {item.cql}>", t, (key, item))
    if pa.types.is_fixed_size_list(t):
        elem = _child(t.value_field, _arg(args, 0, name == VECTOR))
        return _Node(VECTOR, label or f"vector<{elem.cql}, {t.list_size}>", t, (elem,), size=t.list_size)
    if pa.types.is_list(t):
        kind = SET if name == SET else LIST
        elem = _child(t.value_field, _arg(args, 0, name in (LIST, SET)))
        return _Node(kind, label or f"{kind}<{elem.cql}>", t, (elem,))
    raise TypeError(f"no text rendering for Arrow type {t}")


@functools.lru_cache(maxsize=1024)
def _node_for(t: pa.DataType, cql_text: str | None, _nested_metadata: Any) -> _Node:
    builder = _tree_builder(cql_text)
    return builder(t) if builder is not None else _build(t)


def _nested_metadata(t: pa.DataType) -> Any:
    """Child fields' metadata, part of the cache key: DataType equality ignores it."""
    fields = [t.field(i) for i in range(t.num_fields)]
    return tuple((f.name, tuple(sorted((f.metadata or {}).items())), _nested_metadata(f.type)) for f in fields)


def _field_node(field: pa.Field) -> _Node:
    raw = (field.metadata or {}).get(CQL_TYPE_KEY)
    return _node_for(field.type, raw.decode() if raw else None, _nested_metadata(field.type))
