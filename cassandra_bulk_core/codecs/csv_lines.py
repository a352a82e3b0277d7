"""CSV text rewritten line by line for tokenizers that take a single-character delimiter and know
no comments (pyarrow's, Python's ``csv``): a comment line is dropped and a multi-character
delimiter outside quoted fields becomes :data:`.base.MULTI_DELIMITER_STAND_IN`.

Quoted fields may span lines, so the rewriter carries whether a line starts inside quotes; a
line that starts inside a quoted field is never a comment.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from .base import CsvOptions


class CsvLineRewriter:
    """Feed the lines of one CSV text in order; :meth:`rewrite` returns each line as the
    tokenizer should see it, or None for a comment line."""

    def __init__(self, options: CsvOptions) -> None:
        self.options = options
        self.in_quotes = False
        q, esc, delim = options.quote, options.escape, options.delimiter
        parts = [] if esc == q else [re.escape(esc) + r"[\s\S]"]
        parts.append(re.escape(q))
        self.long_delimiter = len(delim) > 1
        if self.long_delimiter:
            parts.append(re.escape(delim))
        self.special = re.compile("|".join(parts))
        self.cheap = re.compile("|".join(re.escape(c) for c in {q, esc, delim[0]}))
        """Characters that can change the state or the text; a line without any passes as is."""

    def rewrite(self, line: str) -> str | None:
        opts = self.options
        if not self.in_quotes and opts.comment and line.startswith(opts.comment):
            return None
        if self.cheap.search(line) is None:
            return line
        out: list[str] = []
        last = 0
        for m in self.special.finditer(line):
            token = m.group()
            if token == opts.quote:
                self.in_quotes = not self.in_quotes
            elif self.long_delimiter and token == opts.delimiter and not self.in_quotes:
                out.append(line[last : m.start()])
                out.append(opts.tokenizer_delimiter)
                last = m.end()
        if not out:
            return line
        out.append(line[last:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """A rewritten record's text with its own delimiter back (for reject files)."""
        if not self.long_delimiter:
            return text
        return text.replace(self.options.tokenizer_delimiter, self.options.delimiter)

    def lines(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            out = self.rewrite(line)
            if out is not None:
                yield out


class RewrittenStream(io.RawIOBase):
    """A binary UTF-8 stream of CSV, rewritten line by line (see :class:`CsvLineRewriter`)."""

    def __init__(self, stream: Any, options: CsvOptions) -> None:
        self.stream = stream
        self.rewriter = CsvLineRewriter(options)
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.pending:
            line = self.stream.readline()
            if not line:
                return 0
            out = self.rewriter.rewrite(line.decode("utf-8"))
            if out is not None:
                self.pending = out.encode("utf-8")
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def rewritten_bytes(data: bytes, options: CsvOptions) -> bytes:
    """A whole UTF-8 CSV text rewritten (for :func:`.parse_csv.read_csv`)."""
    rewriter = CsvLineRewriter(options)
    text = data.decode("utf-8")
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return "".join(rewriter.lines(iter(lines))).encode("utf-8")
