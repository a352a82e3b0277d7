"""Building the tree: from schema text (:func:`parse`, with UDTs resolved) or from the driver's
type classes (:func:`from_driver`), and for a whole table (:func:`table_types`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .nodes import (
    _ALIASES,
    NATIVE_TYPES,
    CqlType,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UnknownCqlType,
    UserType,
    VectorType,
)

UdtLookup = Callable[[str], "tuple[Sequence[str], Sequence[str]] | None"]
"""UDT name → (field names, field type strings), or None when the keyspace has no such type."""


def parse(text: str, keyspace: str = "", udts: UdtLookup | Mapping[str, Any] | None = None) -> CqlType:
    """A CQL type as the schema spells it (``frozen<map<text, list<int>>>``, ``vector<float, 3>``,
    ``'org.apache...Type'``, a UDT name) as a tree.

    :param text: the type text, e.g. ``ColumnMetadata.cql_type``.
    :param keyspace: the keyspace UDT names belong to.
    :param udts: how to resolve a UDT name: a callable, or the driver's ``KeyspaceMetadata.user_types``
        mapping (whose values have ``field_names`` / ``field_types``).
    """
    lookup = _udt_lookup(udts)
    parser = _Parser(text, keyspace, lookup)
    node = parser.type()
    parser.expect_end()
    return node


def _udt_lookup(udts: UdtLookup | Mapping[str, Any] | None) -> UdtLookup:
    if udts is None:
        return lambda name: None
    if callable(udts) and not isinstance(udts, Mapping):
        return udts
    mapping = udts

    def lookup(name: str) -> tuple[Sequence[str], Sequence[str]] | None:
        u = mapping.get(name)
        if u is None:
            u = mapping.get(name.strip('"'))
        return None if u is None else (list(u.field_names), list(u.field_types))

    return lookup


class _Parser:
    def __init__(self, text: str, keyspace: str, udts: UdtLookup):
        self.text, self.pos, self.keyspace, self.udts = text, 0, keyspace, udts

    def _ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _error(self, why: str) -> UnknownCqlType:
        return UnknownCqlType(f"cannot read CQL type {self.text!r} at {self.pos}: {why}")

    def expect(self, ch: str) -> None:
        self._ws()
        if not self.text.startswith(ch, self.pos):
            raise self._error(f"expected {ch!r}")
        self.pos += 1

    def expect_end(self) -> None:
        self._ws()
        if self.pos != len(self.text):
            raise self._error("unexpected text")

    def _peek(self, ch: str) -> bool:
        self._ws()
        return self.text.startswith(ch, self.pos)

    def name(self) -> str:
        self._ws()
        if self._peek('"'):
            end = self.pos + 1
            while True:
                end = self.text.find('"', end)
                if end < 0:
                    raise self._error("unterminated quoted name")
                if self.text.startswith('""', end):
                    end += 2
                    continue
                break
            word = self.text[self.pos + 1 : end].replace('""', '"')
            self.pos = end + 1
            return word
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_."):
            self.pos += 1
        if start == self.pos:
            raise self._error("expected a type name")
        return self.text[start : self.pos]

    def type(self) -> CqlType:
        self._ws()
        if self._peek("'"):
            end = self.text.find("'", self.pos + 1)
            if end < 0:
                raise self._error("unterminated custom type")
            name = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return CustomType(name)
        word = self.name()
        lower = word.lower()
        if lower == "frozen":
            self.expect("<")
            inner = self.type()
            self.expect(">")
            return _freeze_deep(inner)
        if lower in ("list", "set"):
            self.expect("<")
            elem = self.type()
            self.expect(">")
            return ListType(elem) if lower == "list" else SetType(elem)
        if lower == "map":
            self.expect("<")
            key = self.type()
            self.expect(",")
            value = self.type()
            self.expect(">")
            return MapType(key, value)
        if lower == "tuple":
            self.expect("<")
            parts = [self.type()]
            while self._peek(","):
                self.expect(",")
                parts.append(self.type())
            self.expect(">")
            return TupleType(tuple(_freeze_deep(p) for p in parts))
        if lower == "vector":
            self.expect("<")
            elem = self.type()
            self.expect(",")
            self._ws()
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos].isdigit():
                self.pos += 1
            if start == self.pos:
                raise self._error("expected a vector dimension")
            dim = int(self.text[start : self.pos])
            self.expect(">")
            return VectorType(elem, dim)
        if lower in NATIVE_TYPES or lower in _ALIASES:
            return NativeType(_ALIASES.get(lower, lower))
        return self._udt(word)

    def _udt(self, word: str) -> CqlType:
        keyspace, name = self.keyspace, word
        if "." in word:
            keyspace, name = word.split(".", 1)
        found = self.udts(name)
        if found is None:
            raise self._error(f"unknown type {word!r}")
        names, types = found
        parsed = tuple(_freeze_deep(parse(str(t), keyspace, self.udts)) for t in types)
        return UserType(keyspace, name, tuple(str(n) for n in names), parsed)


def _freeze_deep(t: CqlType) -> CqlType:
    """Inside ``frozen<>`` (and inside any collection, tuple or UDT field) everything is frozen."""
    if isinstance(t, ListType):
        return ListType(_freeze_deep(t.element), frozen=True)
    if isinstance(t, SetType):
        return SetType(_freeze_deep(t.element), frozen=True)
    if isinstance(t, MapType):
        return MapType(_freeze_deep(t.key), _freeze_deep(t.value), frozen=True)
    if isinstance(t, UserType):
        return UserType(t.keyspace, t.name, t.field_names, tuple(_freeze_deep(f) for f in t.field_types), True)
    if isinstance(t, TupleType):
        return TupleType(tuple(_freeze_deep(e) for e in t.elements))
    if isinstance(t, VectorType):
        return VectorType(_freeze_deep(t.element), t.dimension)
    return t


def from_driver(cqltype: Any) -> CqlType:
    """A tree from a driver type class (prepared-statement metadata).

    The wire carries no frozen marker, so a collection or UDT is frozen only when a
    ``FrozenType`` wraps it (as in schema-derived classes); prefer :func:`parse` on the schema
    text where it is available."""
    from cassandra import cqltypes as ct

    if issubclass(cqltype, ct.FrozenType):
        return _freeze_deep(from_driver(cqltype.subtypes[0]))
    if issubclass(cqltype, ct.ReversedType):
        return from_driver(cqltype.subtypes[0])
    if issubclass(cqltype, ct.UserType):
        fields = tuple(_freeze_deep(from_driver(s)) for s in cqltype.subtypes)
        return UserType(str(cqltype.keyspace), str(cqltype.typename), tuple(map(str, cqltype.fieldnames)), fields)
    if issubclass(cqltype, ct.VectorType):
        return VectorType(from_driver(cqltype.subtype), int(cqltype.vector_size))
    if issubclass(cqltype, ct.TupleType):
        return TupleType(tuple(_freeze_deep(from_driver(s)) for s in cqltype.subtypes))
    if issubclass(cqltype, ct.ListType):
        return ListType(_freeze_deep(from_driver(cqltype.subtypes[0])))
    if issubclass(cqltype, ct.SetType):
        return SetType(_freeze_deep(from_driver(cqltype.subtypes[0])))
    if issubclass(cqltype, ct.MapType):
        key, value = cqltype.subtypes
        return MapType(_freeze_deep(from_driver(key)), _freeze_deep(from_driver(value)))
    name = str(cqltype.typename)
    if "." not in name and (name in NATIVE_TYPES or name in _ALIASES):
        return NativeType(_ALIASES.get(name, name))
    return CustomType(str(cqltype.cass_parameterized_type(full=True)))


def table_types(cluster: Any, keyspace: str, table: str) -> dict[str, CqlType]:
    """Every column of ``keyspace.table`` (or of a materialized view) as a tree, from the schema.

    :param cluster: the driver ``Cluster`` (or just its ``metadata``). With the cluster, a UDT the
        driver's schema metadata does not know yet (its schema event still on the way, as right
        after ``CREATE TYPE`` from another session) is fetched once before giving up."""
    metadata = getattr(cluster, "metadata", cluster)
    refresh = getattr(cluster, "refresh_user_type_metadata", None)
    ks = metadata.keyspaces[keyspace]
    meta = ks.tables.get(table) or ks.views.get(table)

    def lookup(name: str) -> tuple[Sequence[str], Sequence[str]] | None:
        types = metadata.keyspaces[keyspace].user_types
        found = types.get(name) or types.get(name.strip('"'))
        if found is None and refresh is not None:
            try:
                refresh(keyspace, name.strip('"'))
            except Exception:  # the type may really not exist: parse says so below
                return None
            types = metadata.keyspaces[keyspace].user_types
            found = types.get(name) or types.get(name.strip('"'))
        return None if found is None else (list(found.field_names), list(found.field_types))

    return {name: parse(str(col.cql_type), keyspace, lookup) for name, col in meta.columns.items()}
