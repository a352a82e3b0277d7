"""The typed CQL type tree: one value per CQL type, built once from schema text or driver classes.

Every per-type rule of the engine (CQL → Arrow, Arrow → Iceberg, wire decoding, driver values,
text codecs) is a visitor over this tree, so a rule for one CQL type lives in one place instead of
being re-derived from type-name strings in each module. The shape follows pyiceberg's
``schema.py``: frozen dataclasses for the types and a post-order :func:`visit` that hands each
visitor method its children's results.

Frozen-ness matters only for collections and UDTs (a non-frozen one is stored one cell per element,
so it has no single write time and a same-timestamp rewrite of a list appends); the wire format
does not carry it, which is why the tree is built from the schema text (:func:`parse`) when it is
known and only falls back to the driver's result-metadata classes (:func:`from_driver`).
"""

from __future__ import annotations

from .nodes import (
    NATIVE_TYPES,
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
    visit,
    with_frozen,
)
from .parse import UdtLookup, from_driver, parse, table_types

__all__ = [
    "NATIVE_TYPES",
    "CqlType",
    "CqlTypeVisitor",
    "CustomType",
    "ListType",
    "MapType",
    "NativeType",
    "SetType",
    "TupleType",
    "UdtLookup",
    "UnknownCqlType",
    "UserType",
    "VectorType",
    "from_driver",
    "parse",
    "table_types",
    "visit",
    "with_frozen",
]
