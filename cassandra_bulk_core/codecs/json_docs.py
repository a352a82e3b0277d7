"""The records of a JSON input, whatever its layout (as DSBulk's JSON connector reads them):

* JSON Lines: one document per line (a blank line is skipped; a bad line is rejected alone);
* a top-level array of documents (DSBulk's ``SINGLE_DOCUMENT`` mode), on any number of lines;
* documents one after the other, each on any number of lines (pretty-printed; ``MULTI_DOCUMENT``).

The layout is told from the first non-blank line: ``[`` starts an array; a ``{`` line that is
not a whole document starts multi-line documents; anything else is JSON Lines. Records are
streamed (memory: one record plus a read block); JSON Lines records stay bytes, the others are
text. A document that does not parse is handed on as text up to the next line starting with
``{`` (the reader rejects it), so one bad document does not stop the file.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

_BLOCK = 1 << 20
_MAX_RECORD = 64 << 20
"""A document still unparsed after this many characters is bad, not incomplete."""
_DECODER = json.JSONDecoder()


def json_records(stream: Any, encoding: str = "utf-8") -> Iterator[bytes | str]:
    """Every record of a binary line stream (``readline``/``read``/iteration), BOM already off."""
    first = b""
    for line in stream:
        if line.strip():
            first = line
            break
    if not first:
        return
    head = first.lstrip()
    if head.startswith(b"[") or (head.startswith(b"{") and not _whole(first, encoding)):
        yield from _Documents(stream, encoding, first).records()
        return
    yield first
    for line in stream:
        if line.strip():
            yield line


def _whole(line: bytes, encoding: str) -> bool:
    try:
        json.loads(line.decode(encoding, errors="replace"))
    except ValueError:
        return False
    return True


class _Documents:
    def __init__(self, stream: Any, encoding: str, first: bytes) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
        self.buf = self.decoder.decode(first)
        self.pos = 0
        self.eof = False
        self.array = self.buf.lstrip().startswith("[")
        if self.array:
            self.pos = self.buf.index("[") + 1

    def more(self) -> bool:
        """Read another block; False at the end of the input."""
        if self.eof:
            return False
        data = self.stream.read(_BLOCK)
        self.eof = not data
        self.buf = self.buf[self.pos :] + self.decoder.decode(data, final=self.eof)
        self.pos = 0
        return True

    def skip(self) -> str:
        """Skip blanks (and an array's commas); the next character, or "" at the end."""
        while True:
            while self.pos < len(self.buf) and (
                self.buf[self.pos].isspace() or (self.array and self.buf[self.pos] == ",")
            ):
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def records(self) -> Iterator[str]:
        while True:
            ch = self.skip()
            if not ch:
                return
            if self.array and ch == "]":
                self.pos += 1
                self.array = False  # what follows the array, if anything, is read as documents
                continue
            record = self.document()
            if record is not None:
                yield record

    def document(self) -> str | None:
        while True:
            try:
                _, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if len(self.buf) - self.pos < _MAX_RECORD and self.more():
                    continue
                return self.bad()
            if end == len(self.buf) and self.more():
                continue  # a number may go on in the next block
            record = self.buf[self.pos : end]
            self.pos = end
            return record

    def bad(self) -> str:
        """The unparsable text up to the next line that starts a document."""
        nxt = self.buf.find("\n{", self.pos + 1)
        end = nxt + 1 if nxt >= 0 else len(self.buf)
        record = self.buf[self.pos : end]
        self.pos = end
        return record.rstrip()
