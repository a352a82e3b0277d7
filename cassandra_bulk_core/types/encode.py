"""Native load encoding: a chunk's Arrow columns straight to each row's bound-values bytes.

The load's Python path (:func:`~cassandra_bulk_core.wire.serialize_column`, then the driver's
``write_value`` per value when a batch is sent) makes a Python object per cell twice: the
serialized value, then its length prefix. Here the compiled module (``native/``, the same one that
decodes pages for export) writes, per row, the bytes a ``BATCH``/``EXECUTE`` message carries for
the row's values: ``[short n]`` then ``[int32 length][bytes]`` per value (-1 null, -2 unset), and
the row's routing key. One ``bytes`` object per row instead of ~2 per cell.

Native: tinyint, smallint, int, bigint, counter, float, double, boolean, timestamp, date, time,
uuid, timeuuid, text, ascii, blob, custom types (their bytes), varint and decimal (strict numeral
text), each from its canonical Arrow type. Any other column, or one holding a value the compiled
encoder cannot reproduce exactly (a numeral it does not parse strictly), is serialized the Python
way and its values handed to the encoder as they are: the bytes are the Python path's in every
case (``tests/unit/test_native_encode.py`` checks it byte for byte).

The blob travels in a :class:`~cassandra.query.BatchStatement` in place of the row's values list;
:func:`fast_batch_handler` is the session's protocol handler that writes such blobs as they are.
``CASSANDRA_BULK_NATIVE=0`` turns this off with the page decoder (the driver then serializes).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from . import native
from .arrow import CQL_TYPE_KEY

# Column kinds of the compiled encoder (native/src/encode.rs).
I8, I16, I32, I64, F32, F64, BOOL, DATE, FIXED16, BYTES, LARGE_BYTES, VARINT, DECIMAL, CONST, LIST = range(1, 16)

_INTS = {"tinyint": (pa.int8(), I8), "smallint": (pa.int16(), I16), "int": (pa.int32(), I32)}
_INTS.update({"bigint": (pa.int64(), I64), "counter": (pa.int64(), I64)})
_INTS.update({"float": (pa.float32(), F32), "double": (pa.float64(), F64), "boolean": (pa.bool_(), BOOL)})
_BYTES_TYPES = ("text", "varchar", "ascii", "blob", "uuid", "timeuuid")


def enabled() -> bool:
    """The compiled encoder is there and ``CASSANDRA_BULK_NATIVE`` is not off."""
    return native.enabled() and hasattr(native.module(), "encode_rows")


def _cql(field: pa.Field) -> str:
    return (field.metadata or {}).get(CQL_TYPE_KEY, b"").decode()


def column_kind(arr: pa.Array, field: pa.Field) -> tuple[int, pa.Array] | None:
    """The encoder's kind for ``arr`` (and the array whose buffers it reads), or None when the
    column is serialized the Python way (a type not covered, or not the canonical Arrow type)."""
    cql = _cql(field)
    t = arr.type
    fixed = _INTS.get(cql)
    if fixed is not None:
        return (fixed[1], arr) if t == fixed[0] else None
    if cql == "timestamp":
        return (I64, arr) if pa.types.is_timestamp(t) and t.unit == "ms" else None
    if cql == "time":
        return (I64, arr) if pa.types.is_time64(t) and t.unit == "ns" else None
    if cql == "date":
        return (DATE, arr) if pa.types.is_date32(t) else None
    if cql in ("varint", "decimal"):
        return ((VARINT if cql == "varint" else DECIMAL), arr) if pa.types.is_string(t) else None
    if cql in _BYTES_TYPES or cql.startswith("'"):
        if isinstance(t, pa.BaseExtensionType):
            arr, t = arr.storage, arr.storage.type
        if pa.types.is_fixed_size_binary(t) and t.byte_width == 16 and cql in ("uuid", "timeuuid"):
            return FIXED16, arr
        if pa.types.is_string(t) or pa.types.is_binary(t):
            return BYTES, arr
    return None


def _arrow_spec(kind: int, arr: pa.Array) -> tuple[Any, ...]:
    bufs = arr.buffers()

    def addr(b: Any) -> tuple[int, int]:
        return (0, 0) if b is None else (b.address, b.size)

    validity = addr(bufs[0]) if arr.null_count else (0, 0)
    if kind in (BYTES, LARGE_BYTES, VARINT, DECIMAL):
        offsets, data = addr(bufs[1]), addr(bufs[2])
    else:
        offsets, data = (0, 0), addr(bufs[1])
    return (kind, arr.offset, *validity, *data, *offsets, arr)  # the array: alive for the call


def const_spec(value: Any) -> tuple[Any, ...]:
    """A bound value the same for every row: bytes, None (null) or ``UNSET_VALUE``."""
    return (CONST, 0, 0, 0, 0, 0, 0, 0, value)


def list_spec(values: list[Any]) -> tuple[Any, ...]:
    """A bound value per row, serialized already: bytes, None (null) or ``UNSET_VALUE``."""
    return (LIST, 0, 0, 0, 0, 0, 0, 0, values)


def int64_spec(arr: pa.Array) -> tuple[Any, ...]:
    """An int64 Arrow array as a bound bigint per row (write timestamps)."""
    return _arrow_spec(I64, arr)


def encode_rows(
    columns: Sequence[tuple[pa.Array, pa.Field, Any]],
    extra: Sequence[tuple[Any, ...]],
    protocol_version: int,
    null: Any,
    key: Sequence[int],
) -> tuple[list[bytes], list[bytes], dict[int, str]]:
    """Each row's bound-values blob and routing key, and the rows a column's Python serializer
    refused (index → reason; their blob holds ``null`` for that value).

    :param columns: the statement's columns in order: (canonical Arrow array, its field, the
        driver's CQL type class of the bound column)
    :param extra: the trailing bound values (timestamp, TTL): :func:`const_spec`,
        :func:`list_spec` or :func:`int64_spec`
    :param null: what a null value binds as: ``None`` or ``UNSET_VALUE``
    :param key: indexes of the partition key values (routing key)
    """
    from cassandra.query import UNSET_VALUE

    from ..wire import serialize_column

    n = len(columns[0][0]) if columns else 0
    refused: dict[int, str] = {}
    specs: list[tuple[Any, ...]] = []
    for arr, field, cqltype in columns:
        found = column_kind(arr, field)
        if found is not None:
            specs.append(_arrow_spec(*found))
        else:
            out, bad = serialize_column(arr, field, cqltype, protocol_version, null)
            refused.update((r, f"field {field.name!r}: {reason}") for r, reason in bad.items() if r not in refused)
            specs.append(list_spec(out))
    specs.extend(extra)
    null_len = -2 if null is UNSET_VALUE else -1
    encode = native.module().encode_rows
    while True:
        blobs, keys, bad_column = encode(n, specs, null_len, list(key), UNSET_VALUE)
        if bad_column is None:
            return blobs, keys, refused
        # A value the compiled encoder cannot reproduce exactly: this column the Python way.
        arr, field, cqltype = columns[bad_column]
        out, bad = serialize_column(arr, field, cqltype, protocol_version, null)
        refused.update((r, f"field {field.name!r}: {reason}") for r, reason in bad.items() if r not in refused)
        specs[bad_column] = list_spec(out)


_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")


def values_of(blob: bytes) -> list[Any]:
    """The bound values a blob holds (bytes, None, ``UNSET_VALUE``): for a statement sent on its
    own (a lone row, a retry of a refused batch's row), which the driver binds from a list."""
    from cassandra.query import UNSET_VALUE

    (count,) = _SHORT.unpack_from(blob, 0)
    at = 2
    out: list[Any] = []
    for _ in range(count):
        (size,) = _INT.unpack_from(blob, at)
        at += 4
        if size == -1:
            out.append(None)
        elif size == -2:
            out.append(UNSET_VALUE)
        else:
            out.append(blob[at : at + size])
            at += size
    return out


def python_blob(values: Sequence[Any]) -> bytes:
    """The blob of already-serialized values, as the driver's ``write_value`` writes them: the
    Python reference the compiled encoder is tested against."""
    from cassandra.query import UNSET_VALUE

    parts = [_SHORT.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(_INT.pack(-1))
        elif v is UNSET_VALUE:
            parts.append(_INT.pack(-2))
        else:
            parts.append(_INT.pack(len(v)))
            parts.append(v)
    return b"".join(parts)


# -- sending blobs: the batch message writes them as they are ----------------------------------------


class BlobQueries(list):  # type: ignore[type-arg]
    """A batch's ``(True, query_id, blob)`` statements, all of one prepared statement, with
    ``body``: the statements part of the message already joined (see :func:`blob_queries`)."""

    body: bytes = b""


def blob_queries(query_id: bytes, blobs: list[bytes]) -> BlobQueries:
    """The statements of a batch of rows of one INSERT, each a blob, and their bytes joined."""
    queries = BlobQueries([(True, query_id, b) for b in blobs])
    head = b"\x01" + _SHORT.pack(len(query_id)) + query_id
    queries.body = head + head.join(blobs)
    return queries


class FastBatchHandler:
    """Marker base of the handlers :func:`fast_batch_handler` builds."""


_handlers: dict[type, type] = {}


def fast_batch_handler(base: type) -> type:
    """A protocol handler like ``base`` whose ``BATCH`` messages write a statement's values given as
    one ``bytes`` blob (see :func:`encode_rows`) as they are; lists of values as the driver does."""
    if issubclass(base, FastBatchHandler):
        return base
    handler = _handlers.get(base)
    if handler is None:
        from cassandra.protocol import BatchMessage

        inner = base.encode_message  # type: ignore[attr-defined]

        def encode_message(cls: type, msg: Any, *args: Any, **kwargs: Any) -> Any:
            queries = msg.queries if type(msg) is BatchMessage else None
            if queries is not None and (type(queries) is BlobQueries or any(type(q[2]) is bytes for q in queries)):
                cls_: Any = _blob_batch()
                blob_batch = cls_.__new__(cls_)
                blob_batch.__dict__.update(msg.__dict__)
                msg = blob_batch
            return inner(msg, *args, **kwargs)

        handler = type(
            f"_FastBatch{base.__name__}",
            (base, FastBatchHandler),
            {"encode_message": classmethod(encode_message), "__module__": __name__},
        )
        _handlers[base] = handler
    return handler


def install(session: Any) -> bool:
    """Give ``session`` the blob-writing handler (idempotent); True when its batches take blobs."""
    handler = session.client_protocol_handler
    if not issubclass(handler, FastBatchHandler):
        session.client_protocol_handler = fast_batch_handler(handler)
    return True


def _blob_batch_class() -> type:
    from cassandra.protocol import BatchMessage, write_value

    heads: dict[bytes, bytes] = {}

    def _head(query_id: bytes) -> bytes:
        head = heads.get(query_id)
        if head is None:
            head = heads[query_id] = b"\x01" + _SHORT.pack(len(query_id)) + query_id
        return head

    class BlobBatchMessage(BatchMessage):  # type: ignore[misc]
        """A ``BATCH`` whose statements' values may be blobs: written as they are."""

        def send_body(self, f: Any, protocol_version: int) -> None:
            queries: Any = self.__dict__["queries"]
            f.write(struct.pack(">BH", self.batch_type.value, len(queries)))
            first = queries[0][1] if queries else b""
            if type(queries) is BlobQueries:
                parts = [queries.body]
            elif all(q[0] and q[1] is first and type(q[2]) is bytes for q in queries):
                head = _head(first)  # the usual batch: rows of one INSERT, each a blob
                parts = [head, head.join([q[2] for q in queries])]
            else:
                parts = []
                for prepared, query, params in queries:
                    if not prepared:
                        raise ValueError("a batch of blobs holds prepared statements only")
                    parts.append(_head(query))
                    parts.append(params if type(params) is bytes else _driver(params))
            f.write(b"".join(parts))
            # The rest (consistency, flags, serial consistency, timestamp, keyspace) as the driver
            # writes it: its send_body on no statements, minus the 3 bytes of the empty list.
            import io

            tail = io.BytesIO()
            self.queries = []
            try:
                BatchMessage.send_body(self, tail, protocol_version)
            finally:
                self.queries = queries
            f.write(tail.getvalue()[3:])

    def _driver(params: Sequence[Any]) -> bytes:
        import io

        buf = io.BytesIO()
        buf.write(_SHORT.pack(len(params)))
        for p in params:
            write_value(buf, p)
        return buf.getvalue()

    return BlobBatchMessage


_blob_class: list[type] = []


def _blob_batch() -> type:
    """The ``BATCH`` message class that writes blobs (made on first use: it imports the driver)."""
    if not _blob_class:
        _blob_class.append(_blob_batch_class())
    return _blob_class[0]
