"""Exact wire decoding for scans: a visitor from the CQL type tree to driver type classes.

The driver decodes each cell into a Python object (``datetime``, ``Decimal``, ``UUID``,
``util.Date``) that the scan then turns into an Arrow value and throws away. That is where most of
a scan's client CPU went, and it is also lossy: ``datetime`` cannot hold timestamps outside years
1-9999 (one such cell failed its whole token range) and goes through float seconds; zero-length
(EMPTY) values of fixed-width types arrive as ``None``, indistinguishable from null.

The classes built here are installed in a prepared statement's ``result_metadata``, which is what
both the driver's Cython and Python row parsers decode with, so no driver code is patched:

=============  ===========================================  ================================
CQL            decoded value                                why
=============  ===========================================  ================================
timestamp      int (epoch milliseconds)                     any int64, no datetime
date           int (days since epoch)                       the full CQL range, no util.Date
time           int (nanoseconds since midnight)
uuid/timeuuid  bytes (16)                                   Arrow's uuid storage as is
decimal        str (the driver's canonical literal)         Arrow column is a string
varint         str (decimal digits)                         unbounded; Arrow column is a string
custom types   bytes (the cell as stored)                   moved exactly, as a blob
int, double..  the driver's own Cython decoders             fast already
=============  ===========================================  ================================

Every fixed-width scalar decodes a zero-length cell as ``cassandra.cqltypes.EMPTY`` (not None),
so the scan can count EMPTY values instead of silently turning them into nulls.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cassandra import cqltypes as ct

from .tree import (
    CqlTypeVisitor,
    CustomType,
    ListType,
    MapType,
    NativeType,
    SetType,
    TupleType,
    UserType,
    VectorType,
    visit,
)

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_DATE_OFFSET = 2**31

EMPTY = ct.EMPTY
"""The driver's marker for a zero-length value of a type that has no empty form."""


class _ExactTimestamp(ct.DateType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> int:
        return int(_INT64.unpack(byts)[0])


class _ExactDate(ct.SimpleDateType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> int:
        return int(_UINT32.unpack(byts)[0]) - _DATE_OFFSET


class _ExactTime(ct.TimeType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> int:
        return int(_INT64.unpack(byts)[0])


class _ExactUUID(ct.UUIDType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> bytes:
        if len(byts) != 16:
            raise ValueError(f"a uuid needs 16 bytes, got {len(byts)}")
        return bytes(byts)


class _ExactTimeUUID(ct.TimeUUIDType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> bytes:
        if len(byts) != 16:
            raise ValueError(f"a timeuuid needs 16 bytes, got {len(byts)}")
        return bytes(byts)


class _ExactDecimal(ct.DecimalType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> str:
        scale = _INT32.unpack(byts[:4])[0]
        unscaled = int.from_bytes(byts[4:], "big", signed=True)
        # The driver's own construction, so the literal is the one it always printed.
        return str(Decimal(f"{unscaled}e{-scale}"))


class _ExactVarint(ct.IntegerType):
    support_empty_values = True

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> str:
        return str(int.from_bytes(byts, "big", signed=True))


class _RawCustom(ct.BytesType):
    """Any custom (``'org.apache...Type'``) column: its bytes, as stored."""

    @staticmethod
    def deserialize(byts: bytes, protocol_version: int) -> bytes:
        return bytes(byts)


_EXACT: dict[str, type] = {
    "timestamp": _ExactTimestamp,
    "date": _ExactDate,
    "time": _ExactTime,
    "uuid": _ExactUUID,
    "timeuuid": _ExactTimeUUID,
    "decimal": _ExactDecimal,
    "varint": _ExactVarint,
}

# Types whose Cython decoder is exact and fast: keep it, only add EMPTY support. The Cython
# deserializer is found by class *name* ("Des" + name), so the twin must keep the driver's name;
# the driver's metaclass would then register the twin globally under that name, which
# _twin undoes, leaving the driver's own lookups untouched.
_FAST: dict[str, type] = {
    "tinyint": ct.ByteType,
    "smallint": ct.ShortType,
    "int": ct.Int32Type,
    "bigint": ct.LongType,
    "counter": ct.CounterColumnType,
    "float": ct.FloatType,
    "double": ct.DoubleType,
    "boolean": ct.BooleanType,
    "inet": ct.InetAddressType,
    "duration": ct.DurationType,
}
# Strings and blobs have an empty form of their own; the driver's classes are right as they are.
_AS_IS: dict[str, type] = {"ascii": ct.AsciiType, "text": ct.UTF8Type, "blob": ct.BytesType}

_twins: dict[str, type] = {}
_twin_lock = threading.Lock()


def _twin(name: str) -> type:
    with _twin_lock:
        twin = _twins.get(name)
        if twin is None:
            base = _FAST[name]
            registries = (ct._casstypes, ct._cqltypes)
            saved = [dict(r) for r in registries]
            try:
                twin = type(base.__name__, (base,), {"support_empty_values": True, "__module__": __name__})
            finally:
                for registry, before in zip(registries, saved, strict=True):
                    registry.clear()
                    registry.update(before)
            _twins[name] = twin
        return twin


class DecodeVisitor(CqlTypeVisitor[type]):
    """The driver class that decodes a CQL type exactly (see the module docstring)."""

    def native(self, t: NativeType) -> type:
        if t.name in _EXACT:
            return _EXACT[t.name]
        if t.name in _FAST:
            return _twin(t.name)
        return _AS_IS[t.name]

    def list(self, t: ListType, element: type) -> type:
        return _param("_cb_list", ct.ListType, (element,))

    def set(self, t: SetType, element: type) -> type:
        return _param("_cb_set", ct.SetType, (element,))

    def map(self, t: MapType, key: type, value: type) -> type:
        return _param("_cb_map", ct.MapType, (key, value))

    def tuple(self, t: TupleType, elements: Sequence[type]) -> type:
        return _param("_cb_tuple", ct.TupleType, tuple(elements))

    def udt(self, t: UserType, fields: Sequence[type]) -> type:
        # mapped_class/tuple_type None: fields come back as a plain tuple, in declaration order.
        extra = {
            "typename": t.name,
            "keyspace": t.keyspace,
            "fieldnames": t.field_names,
            "mapped_class": None,
            "tuple_type": None,
        }
        return _param("_cb_udt", ct.UserType, tuple(fields), extra)

    def vector(self, t: VectorType, element: type) -> type:
        extra = {"subtype": element, "vector_size": t.dimension}
        return _param("_cb_vector", ct.VectorType, (element,), extra)

    def custom(self, t: CustomType) -> type:
        return _RawCustom


def _param(name: str, base: type, subtypes: tuple[type, ...], extra: dict[str, Any] | None = None) -> type:
    """A parameterized driver class; a leading underscore keeps it out of the driver's registry,
    and the Cython decoder for it is found by ``issubclass`` (list, set, map, tuple, UDT)."""
    attrs: dict[str, Any] = {"subtypes": subtypes, "cassname": base.cassname, "__module__": __name__}  # type: ignore[attr-defined]
    attrs.update(extra or {})
    return type(name, (base,), attrs)


def decode_class(t: Any) -> type:
    """The driver class that decodes ``t`` (a :class:`~.tree.CqlType`) exactly."""
    return visit(t, DecodeVisitor())


class ExactMetadata(list):  # type: ignore[type-arg]
    """A prepared statement's result metadata whose types are the exact decoders; ``original``
    keeps the driver's classes, to check that metadata a server sends describes the same columns;
    ``native`` is the plan of the native page decoder (:mod:`.native`) for these columns."""

    original: list[Any]
    native: Any = None


def install(session: Any, prepared: Any, types: Sequence[Any]) -> None:
    """Make ``prepared`` decode its first ``len(types)`` result columns with the exact classes.

    ``PreparedStatement.result_metadata`` is what the driver decodes a page with when the server
    skips the metadata; Cassandra 5 sends it anyway on protocol v4, so the session also gets
    :class:`ExactProtocolHandler`, which puts the exact classes in place of the sent ones for
    statements prepared here (and only those: other statements decode as before). Such pages are
    parsed natively into Arrow arrays when :func:`.native.enabled` (see :mod:`.native`)."""
    meta = ExactMetadata(prepared.result_metadata)
    meta.original = list(prepared.result_metadata)
    for i, t in enumerate(types):
        ks, table, name, _old = meta[i]
        meta[i] = (ks, table, name, decode_class(t))
    meta.native = _native_plan(meta, types)
    prepared.result_metadata = meta
    handler = session.client_protocol_handler
    if not issubclass(handler, ExactProtocolHandler):
        session.client_protocol_handler = exact_handler(handler)


def _native_plan(meta: ExactMetadata, types: Sequence[Any]) -> Any:
    """The native decoder's plan: the given trees, then the remaining columns (``writetime()``,
    ``ttl()``) from their driver classes, which decode them exactly already."""
    from .arrow import column_type_of
    from .native import NativePlan
    from .tree import from_driver

    trees = list(types) + [from_driver(m[3]) for m in meta.original[len(types) :]]
    try:
        return NativePlan(trees, [column_type_of(t, exact=True).arrow for t in trees])
    except Exception:  # a column Arrow has no rule for: the driver decodes the whole page
        return None


class ExactProtocolHandler:
    """Marker base of the handlers :func:`exact_handler` builds."""


_handlers: dict[type, type] = {}


def exact_handler(base: type) -> type:
    """A protocol handler like ``base`` (the driver's Cython one, or a column-encryption variant)
    whose RESULT rows decode with :class:`ExactMetadata` types when the statement has them."""
    with _twin_lock:
        handler = _handlers.get(base)
        if handler is None:
            from cassandra.protocol import ResultMessage

            result_base = base.message_types_by_opcode[ResultMessage.opcode]  # type: ignore[attr-defined]
            result = type(
                "_ExactResultMessage",
                (result_base,),
                {
                    "recv_results_rows": _recv_results_rows(result_base, result_base.recv_results_rows),
                    "recv_results_metadata": _recv_results_metadata(result_base.recv_results_metadata),
                },
            )
            opcodes = {**base.message_types_by_opcode, ResultMessage.opcode: result}  # type: ignore[attr-defined]
            handler = type("ExactProtocolHandler", (base, ExactProtocolHandler), {"message_types_by_opcode": opcodes})
            _handlers[base] = handler
        return handler


def _recv_results_rows(result_base: type, inner: Any) -> Any:
    def recv_results_rows(
        self: Any, f: Any, protocol_version: int, user_type_map: Any, result_metadata: Any, *rest: Any
    ) -> Any:
        exact = result_metadata if isinstance(result_metadata, ExactMetadata) else None
        self._cb_exact = exact
        self._cb_same = False
        encrypted = bool(rest) and rest[0] is not None
        # Protocol v3+ only: v1/v2 collections have 16-bit lengths (Cassandra 4+ speaks v3+ anyway).
        if exact is not None and exact.native is not None and not encrypted and protocol_version >= 3:
            from . import native

            if native.enabled():
                start = f.tell()
                try:
                    if _native_rows(self, f, result_base, inner, protocol_version, user_type_map, exact):
                        return None
                except Exception:  # refused by the native parser: the driver decodes the page
                    pass
                f.seek(start)
                self.column_metadata = None
        return inner(self, f, protocol_version, user_type_map, result_metadata, *rest)

    return recv_results_rows


def _native_rows(
    msg: Any, f: Any, result_base: type, inner: Any, protocol_version: int, user_type_map: Any, exact: ExactMetadata
) -> bool:
    """Parse the page natively into ``msg.parsed_rows`` (a :class:`.native.NativePage`); False
    when the server described other columns than the statement's (the driver then decodes)."""
    import io

    from cassandra.protocol import RESULT_KIND_ROWS

    msg.recv_results_metadata(f, user_type_map)
    if msg.column_metadata is not None and not msg._cb_same:
        return False
    columns = msg.column_metadata or exact

    def decode_fallback(body: bytes, indices: list[int]) -> list[tuple[Any, ...]]:
        # Today's path for these columns: the driver's row parser on a no-metadata RESULT body.
        sub = result_base(RESULT_KIND_ROWS)
        inner(sub, io.BytesIO(body), protocol_version, user_type_map, [columns[i] for i in indices], None)
        return list(sub.parsed_rows)

    page = exact.native.parse(f.read(), decode_fallback)
    msg.column_names = [c[2] for c in columns]
    msg.column_types = [c[3] for c in columns]
    msg.parsed_rows = page
    return True


def _recv_results_metadata(inner: Any) -> Any:
    def recv_results_metadata(self: Any, f: Any, user_type_map: Any) -> Any:
        out = inner(self, f, user_type_map)
        exact = getattr(self, "_cb_exact", None)
        sent = getattr(self, "column_metadata", None)
        if exact is not None and sent and _same_columns(sent, exact.original):
            self.column_metadata = [(*m[:3], e[3]) for m, e in zip(sent, exact, strict=True)]
            self._cb_same = True
        return out

    return recv_results_metadata


def _same_columns(sent: Sequence[Any], original: Sequence[Any]) -> bool:
    """The server describes the columns the statement was prepared with (no schema change since)."""
    if len(sent) != len(original):
        return False
    return all(
        a[2] == b[2] and a[3].cass_parameterized_type(full=True) == b[3].cass_parameterized_type(full=True)
        for a, b in zip(sent, original, strict=True)
    )
