"""One value from text (a CSV cell, a JSON string) or from a JSON value, for ``pa.array``."""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import re
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

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
    TextCodecError,
    _ParseOpts,
)
from .cql_literals import CqlLiteralError, parse_literal
from .nodes import _Node
from .numbers import _parse_decimal, _parse_exact, _parse_floating, _parse_integer, _parse_varint_digits
from .temporal import _parse_date, _parse_duration, _parse_time, _parse_timestamp

_BOOLEANS = {
    "true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
    "y": True, "n": False, "t": True, "f": False,
}  # fmt: skip
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_HEX_RE = re.compile(r"0[xX](?:[0-9a-fA-F]{2})*\Z")


def _parse_blob(s: str, node: _Node, binary_format: str) -> bytes:
    # DSBulk's rule: a 0x prefix means hex in either mode (so BASE64 mode never misreads a cqlsh
    # literal as BASE64 text); "" is the empty blob in either mode (DAT-573). In BASE64 mode a
    # 0x-prefixed text that is not hex is still read as BASE64 (random BASE64 starts with "0x"
    # once in 4096 values).
    if _HEX_RE.match(s):
        return bytes.fromhex(s[2:])
    if s == "":
        return b""
    if binary_format == "HEX":
        raise TextCodecError(s, node.cql, "expected 0x followed by pairs of hex digits")
    padded = s + "=" * (-len(s) % 4)  # Java's decoder does not require the padding
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise TextCodecError(s, node.cql, "invalid BASE64") from None


def _parse_uuid(s: str, node: _Node) -> bytes:
    text = s.strip()
    if not _UUID_RE.match(text):
        raise TextCodecError(s, node.cql, "expected 8-4-4-4-12 hex digits")
    raw = uuid.UUID(text).bytes
    if node.kind == TIMEUUID and raw[6] >> 4 != 1:
        raise TextCodecError(s, node.cql, "not a version 1 (time-based) UUID")
    return raw


def _parse_inet(s: str, node: _Node) -> str:
    text = s.strip()
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, text))  # the driver's spelling
        except (OSError, ValueError):
            continue
    raise TextCodecError(s, node.cql, "not an IPv4 or IPv6 address")


def _with_brackets(text: str, node: _Node) -> str:
    # DSBulk accepts collections without their outer brackets (DAT-317).
    if node.kind in (MAP, UDT) and not text.startswith("{") and not (node.kind == UDT and text.startswith("[")):
        return "{" + text + "}"
    if node.kind in (LIST, SET, VECTOR, TUPLE) and not text.startswith("["):
        return "[" + text + "]"
    return text


def _decode_nested(s: str, node: _Node) -> Any:
    """A nested value's text as JSON, or else as a CQL literal (cqlsh's ``{'a', 'b'}``, ``(1, 'x')``)."""
    text = s.strip()
    if node.kind in (LIST, SET, VECTOR, TUPLE) and text[:1] in ("{", "("):
        # {'a', 'b'}, {} and (1, 'x') are CQL; a JSON object here would be an element, unbracketed.
        try:
            value = parse_literal(text)
        except CqlLiteralError:
            value = None
        if isinstance(value, list) or value == {}:
            return value
    try:
        return json.loads(_with_brackets(text, node), parse_float=decimal.Decimal)
    except ValueError as exc:
        json_error = str(exc)
    if text[:1] not in ("{", "[", "("):
        raise TextCodecError(s, node.cql, f"invalid JSON: {json_error}")
    try:
        return parse_literal(text)
    except CqlLiteralError as exc:
        raise TextCodecError(s, node.cql, f"invalid JSON: {json_error}; not a CQL literal either: {exc}") from None


def _parse_nested_text(s: str, node: _Node, opts: _ParseOpts) -> Any:
    value = _decode_nested(s, node)
    try:
        return _parse_json(value, node, opts)
    except TextCodecError as exc:
        raise TextCodecError(s, node.cql, exc.reason if exc.value is value else str(exc)) from None


def _parse_boolean(s: str, node: _Node) -> bool:
    value = _BOOLEANS.get(s.strip().lower())
    if value is None:
        raise TextCodecError(s, node.cql, "expected true/false (or yes/no, y/n, t/f, 1/0)")
    return value


def _parse_ascii(s: str, node: _Node) -> str:
    if not s.isascii():
        raise TextCodecError(s, node.cql, "non-ASCII character")
    return s


def _parse_varint(s: str, node: _Node) -> Any:
    if pa.types.is_string(node.arrow) or pa.types.is_large_string(node.arrow):
        return _parse_varint_digits(s, node)
    return _parse_exact(s, node)


_TextParser = Callable[[str, _Node, _ParseOpts], Any]

_EMPTY_IS_A_VALUE: dict[str, _TextParser] = {
    TEXT: lambda s, node, opts: s,
    ASCII: lambda s, node, opts: _parse_ascii(s, node),
    BLOB: lambda s, node, opts: _parse_blob(s, node, opts.binary_format),  # "" is an empty blob (DAT-573)
    DURATION: lambda s, node, opts: _parse_duration(s, node),
}
"""Kinds whose empty text is a value, not null."""

_TEXT_PARSERS: dict[str, _TextParser] = {
    INT: lambda s, node, opts: _parse_integer(s, node),
    VARINT: lambda s, node, opts: _parse_varint(s, node),
    DECIMAL: lambda s, node, opts: _parse_decimal(s, node),
    FLOAT: lambda s, node, opts: _parse_floating(s, node, opts.lossy),
    DOUBLE: lambda s, node, opts: _parse_floating(s, node, opts.lossy),
    BOOLEAN: lambda s, node, opts: _parse_boolean(s, node),
    UUID: lambda s, node, opts: _parse_uuid(s, node),
    TIMEUUID: lambda s, node, opts: _parse_uuid(s, node),
    INET: lambda s, node, opts: _parse_inet(s, node),
    DATE: lambda s, node, opts: _parse_date(s, node),
    TIME: lambda s, node, opts: _parse_time(s, node),
    TIMESTAMP: lambda s, node, opts: _parse_timestamp(s, node),
}


def _parse_text(s: Any, node: _Node, opts: _ParseOpts) -> Any:
    """One non-null text value (a CSV cell, or a JSON string/map key) as a value for ``pa.array``."""
    if not isinstance(s, str):
        raise TextCodecError(s, node.cql, f"expected text, got {type(s).__name__}")
    parser = _EMPTY_IS_A_VALUE.get(node.kind)
    if parser is not None:
        return parser(s, node, opts)
    if s == "" or s.isspace():
        return None  # DSBulk: an empty string is null for every non-text type
    parser = _TEXT_PARSERS.get(node.kind, _parse_nested_text)
    return parser(s, node, opts)


def _number_text(value: Any) -> str | None:
    """A JSON number as text, exactly (ints, Decimals from ``parse_float=Decimal``, floats)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return None


def _type_error(value: Any, node: _Node, expected: str) -> TextCodecError:
    return TextCodecError(value, node.cql, f"expected {expected}, got {type(value).__name__}")


def _json_as_text(value: Any, node: _Node, opts: _ParseOpts) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _number_text(value)
    if number is None:
        raise _type_error(value, node, "a JSON string")
    return _parse_text(number, node, opts)


def _json_number(value: Any, node: _Node, opts: _ParseOpts) -> Any:
    number = _number_text(value)
    if number is None:
        raise _type_error(value, node, "a JSON number")
    return _parse_text(number, node, opts)


def _json_boolean(value: Any, node: _Node, opts: _ParseOpts) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _type_error(value, node, "a JSON boolean")


def _json_timestamp(value: Any, node: _Node, opts: _ParseOpts) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return _parse_text(str(value), node, opts)
    raise _type_error(value, node, "a JSON string")


def _json_duration(value: Any, node: _Node, opts: _ParseOpts) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _type_error(value, node, "a JSON string")
    try:
        return {k: int(value.get(k, 0) or 0) for k in ("months", "days", "nanoseconds")}
    except (TypeError, ValueError):
        raise TextCodecError(value, node.cql, "expected integer months, days and nanoseconds") from None


def _json_sequence(value: Any, node: _Node, opts: _ParseOpts) -> list[Any]:
    if isinstance(value, dict) and not value:
        value = []  # CQL's empty collection literal is {} whatever the collection
    if not isinstance(value, list):
        raise _type_error(value, node, "a JSON array")
    if node.kind == VECTOR and len(value) != node.size:
        raise TextCodecError(value, node.cql, f"expected {node.size} elements, got {len(value)}")
    return [_nested(value, node, f"element {i}", v, node.children[0], opts) for i, v in enumerate(value)]


def _json_map(value: Any, node: _Node, opts: _ParseOpts) -> list[tuple[Any, Any]]:
    if not isinstance(value, dict):
        raise _type_error(value, node, "a JSON object")
    key_node, item_node = node.children
    out = []
    for k, v in value.items():
        key = _nested(value, node, f"key {k!r}", k, key_node, opts, as_text=True)
        if key is None:
            raise TextCodecError(value, node.cql, f"key {k!r}: a map key cannot be null")
        out.append((key, _nested(value, node, f"value of {k!r}", v, item_node, opts)))
    return out


def _json_struct(value: Any, node: _Node, opts: _ParseOpts) -> dict[str, Any]:
    if isinstance(value, list):
        if len(value) != len(node.children):
            raise TextCodecError(value, node.cql, f"expected {len(node.children)} elements, got {len(value)}")
        items = list(zip(node.names, value, strict=True))
    elif isinstance(value, dict):
        items = _udt_fields(value, node)
    else:
        raise _type_error(value, node, "a JSON array or object")
    return {
        n: _nested(value, node, f"field {n!r}", v, child, opts)
        for (n, v), child in zip(items, node.children, strict=True)
    }


def _udt_fields(value: dict[str, Any], node: _Node) -> list[tuple[str, Any]]:
    """(name, value) of every field; a missing field is null. A name not found as written is
    looked up in lower case (a CQL literal's unquoted field names are case-insensitive)."""
    fields = dict(value)
    for k in value:
        if k not in node.names:
            lower = k.lower() if isinstance(k, str) else k
            if lower not in node.names or lower in value:
                raise TextCodecError(value, node.cql, f"unknown field {k!r}")
            fields[lower] = fields.pop(k)
    return [(n, fields.get(n)) for n in node.names]


_JsonParser = Callable[[Any, _Node, _ParseOpts], Any]

_JSON_PARSERS: dict[str, _JsonParser] = {
    TEXT: _json_as_text,
    ASCII: _json_as_text,
    **dict.fromkeys((INT, VARINT, DECIMAL, FLOAT, DOUBLE), _json_number),
    BOOLEAN: _json_boolean,
    TIMESTAMP: _json_timestamp,
    DURATION: _json_duration,
    **dict.fromkeys((LIST, SET, VECTOR), _json_sequence),
    MAP: _json_map,
    TUPLE: _json_struct,
    UDT: _json_struct,
}
"""JSON values other than strings (a string is read as text for every kind)."""


def _parse_json(value: Any, node: _Node, opts: _ParseOpts) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_text(value, node, opts)  # nested kinds: JSON text inside a string
    parser = _JSON_PARSERS.get(node.kind)
    if parser is None:
        raise _type_error(value, node, "a JSON string")
    return parser(value, node, opts)


def _nested(
    whole: Any, node: _Node, where: str, value: Any, child: _Node, opts: _ParseOpts, *, as_text: bool = False
) -> Any:
    """Parse a part of a nested value; an error names the whole value and where the part is."""
    try:
        if as_text:
            return _parse_text(value, child, opts)
        return _parse_json(value, child, opts)
    except TextCodecError as exc:
        raise TextCodecError(whole, node.cql, f"{where}: {exc}") from None
