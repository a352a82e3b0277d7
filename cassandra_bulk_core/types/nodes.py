"""The CQL type tree's nodes and its post-order visitor (see :mod:`.tree` for the whole story)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

NATIVE_TYPES = frozenset(
    {
        "ascii",
        "bigint",
        "blob",
        "boolean",
        "counter",
        "date",
        "decimal",
        "double",
        "duration",
        "float",
        "inet",
        "int",
        "smallint",
        "text",
        "time",
        "timestamp",
        "timeuuid",
        "tinyint",
        "uuid",
        "varint",
    }
)
_ALIASES = {"varchar": "text"}


class UnknownCqlType(ValueError):
    """A type string this engine cannot read (the message names it)."""


@dataclass(frozen=True)
class CqlType:
    """Base of every node; ``cql`` is the canonical CQL spelling (what ``DESCRIBE`` shows)."""

    @property
    def cql(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @property
    def multicell(self) -> bool:
        """Stored one cell per element (non-frozen collection or UDT): no single writetime/TTL."""
        return False

    def __str__(self) -> str:
        return self.cql


@dataclass(frozen=True)
class NativeType(CqlType):
    name: str

    @property
    def cql(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListType(CqlType):
    element: CqlType
    frozen: bool = False

    @property
    def cql(self) -> str:
        return _frozen(f"list<{self.element.cql}>", self.frozen)

    @property
    def multicell(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class SetType(CqlType):
    element: CqlType
    frozen: bool = False

    @property
    def cql(self) -> str:
        return _frozen(f"set<{self.element.cql}>", self.frozen)

    @property
    def multicell(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class MapType(CqlType):
    key: CqlType
    value: CqlType
    frozen: bool = False

    @property
    def cql(self) -> str:
        return _frozen(f"map<{self.key.cql}, {self.value.cql}>", self.frozen)

    @property
    def multicell(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class TupleType(CqlType):
    """Tuples are always frozen in Cassandra."""

    elements: tuple[CqlType, ...]

    @property
    def cql(self) -> str:
        return f"frozen<tuple<{', '.join(e.cql for e in self.elements)}>>"


@dataclass(frozen=True)
class UserType(CqlType):
    keyspace: str
    name: str
    field_names: tuple[str, ...]
    field_types: tuple[CqlType, ...]
    frozen: bool = False

    @property
    def cql(self) -> str:
        return _frozen(self.name, self.frozen)

    @property
    def multicell(self) -> bool:
        return not self.frozen


@dataclass(frozen=True)
class VectorType(CqlType):
    element: CqlType
    dimension: int

    @property
    def cql(self) -> str:
        return f"vector<{self.element.cql}, {self.dimension}>"


@dataclass(frozen=True)
class CustomType(CqlType):
    """A server-side ``AbstractType`` class with no CQL syntax (e.g. DynamicCompositeType(...)).

    Carried as its raw bytes: the engine cannot interpret it, but it can move it exactly."""

    class_name: str

    @property
    def cql(self) -> str:
        return f"'{self.class_name}'"


def _frozen(text: str, frozen: bool) -> str:
    return f"frozen<{text}>" if frozen else text


def with_frozen(t: CqlType, frozen: bool) -> CqlType:
    """``t`` marked frozen (inside another collection, or declared ``frozen<...>``)."""
    if isinstance(t, ListType | SetType | MapType | UserType) and t.frozen != frozen:
        from dataclasses import replace

        return replace(t, frozen=frozen)
    return t


# -- visitor -----------------------------------------------------------------------------------


class CqlTypeVisitor(Generic[T]):
    """Post-order visitor: each method receives the node and its children's results."""

    def native(self, t: NativeType) -> T:
        raise NotImplementedError

    def list(self, t: ListType, element: T) -> T:
        raise NotImplementedError

    def set(self, t: SetType, element: T) -> T:
        raise NotImplementedError

    def map(self, t: MapType, key: T, value: T) -> T:
        raise NotImplementedError

    def tuple(self, t: TupleType, elements: Sequence[T]) -> T:
        raise NotImplementedError

    def udt(self, t: UserType, fields: Sequence[T]) -> T:
        raise NotImplementedError

    def vector(self, t: VectorType, element: T) -> T:
        raise NotImplementedError

    def custom(self, t: CustomType) -> T:
        raise NotImplementedError


def visit(t: CqlType, visitor: CqlTypeVisitor[T]) -> T:
    """Apply ``visitor`` to ``t`` bottom-up."""
    if isinstance(t, NativeType):
        return visitor.native(t)
    if isinstance(t, ListType):
        return visitor.list(t, visit(t.element, visitor))
    if isinstance(t, SetType):
        return visitor.set(t, visit(t.element, visitor))
    if isinstance(t, MapType):
        return visitor.map(t, visit(t.key, visitor), visit(t.value, visitor))
    if isinstance(t, TupleType):
        return visitor.tuple(t, [visit(e, visitor) for e in t.elements])
    if isinstance(t, UserType):
        return visitor.udt(t, [visit(f, visitor) for f in t.field_types])
    if isinstance(t, VectorType):
        return visitor.vector(t, visit(t.element, visitor))
    if isinstance(t, CustomType):
        return visitor.custom(t)
    raise TypeError(f"not a CQL type node: {t!r}")
