"""CQL literal syntax for collections, tuples and UDTs, as cqlsh ``COPY`` writes them and DSBulk
accepts them: ``{'a', 'b'}`` (set), ``['foo', 'bar']`` (list), ``{'k': 1}`` (map),
``(1, 'x')`` (tuple), ``{val2: 1, val1: 'x'}`` (UDT, fields in any order, missing ones null).

:func:`parse_literal` turns such a text into the shapes JSON decoding gives (lists and dicts), with
every scalar as its text: a quoted string unquoted (``''`` is a quote), anything else as written
(``1.5``, ``0xcafe``, ``true``, a uuid), ``null`` as None. The per-type text parsers then read
each scalar as they read a CSV cell. A map key that is itself a collection keeps its literal text
(read again as a literal for its type).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["CqlLiteralError", "parse_literal"]


class CqlLiteralError(ValueError):
    """Not a CQL literal; the message says where."""


_BARE = re.compile(r"[^\s,:{}\[\]()'\"]+")
_CLOSE = {"{": "}", "[": "]", "(": ")"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def error(self, why: str) -> CqlLiteralError:
        return CqlLiteralError(f"{why} at position {self.pos}")

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_blanks()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, ch: str) -> bool:
        if self.peek() == ch:
            self.pos += 1
            return True
        return False

    def quoted(self, quote: str) -> str:
        """A ``'...'`` string or ``"..."`` identifier; the quote doubled inside stands for itself."""
        out, pos = [], self.pos + 1
        while True:
            end = self.text.find(quote, pos)
            if end < 0:
                raise self.error("unterminated string")
            out.append(self.text[pos:end])
            if self.text.startswith(quote * 2, end):
                out.append(quote)
                pos = end + 2
                continue
            self.pos = end + 1
            return "".join(out)

    def dollar(self) -> str:
        end = self.text.find("$$", self.pos + 2)
        if end < 0:
            raise self.error("unterminated $$ string")
        value = self.text[self.pos + 2 : end]
        self.pos = end + 2
        return value

    def scalar(self) -> str | None:
        ch = self.peek()
        if ch in ("'", '"'):
            return self.quoted(ch)
        if self.text.startswith("$$", self.pos):
            return self.dollar()
        m = _BARE.match(self.text, self.pos)
        if m is None:
            raise self.error("expected a value")
        self.pos = m.end()
        word = m.group()
        return None if word.lower() == "null" else word

    def value(self) -> Any:
        ch = self.peek()
        if ch == "{":
            return self.braces()
        if ch in ("[", "("):
            return self.sequence(ch)
        return self.scalar()

    def key(self) -> Any:
        """A map key or UDT field name: text (a nested key keeps its literal text)."""
        start = self.pos
        ch = self.peek()
        if ch in _CLOSE:
            self.value()
            return self.text[start : self.pos].strip()
        return self.scalar()

    def sequence(self, open_: str) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        close = _CLOSE[open_]
        if self.take(close):
            return out
        while True:
            out.append(self.value())
            if self.take(close):
                return out
            if not self.take(","):
                raise self.error(f"expected ',' or {close!r}")

    def braces(self) -> Any:
        """``{}`` (empty: a dict, which an empty set also accepts), a set, a map or a UDT."""
        self.pos += 1
        if self.take("}"):
            return {}
        first_at = self.pos
        first = self.key()
        if not self.take(":"):
            self.pos = first_at  # a set: re-read the first element as a value
            return self.sequence_rest()
        pairs: dict[Any, Any] = {}
        while True:
            pairs[first] = self.value()
            if self.take("}"):
                return pairs
            if not self.take(","):
                raise self.error("expected ',' or '}'")
            first = self.key()
            if not self.take(":"):
                raise self.error("expected ':'")

    def sequence_rest(self) -> list[Any]:
        out: list[Any] = []
        while True:
            out.append(self.value())
            if self.take("}"):
                return out
            if not self.take(","):
                raise self.error("expected ',' or '}'")


def parse_literal(text: str) -> Any:
    """The collection, tuple or UDT literal ``text`` as lists/dicts of scalar texts (see the module
    docstring); :class:`CqlLiteralError` when it is not one."""
    reader = _Reader(text)
    if reader.peek() not in _CLOSE:
        raise reader.error("expected '{', '[' or '('")
    value = reader.value()
    if reader.peek():
        raise reader.error("unexpected text after the literal")
    return value
