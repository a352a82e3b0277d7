"""JSON files: JSON Lines, a top-level array, or multi-line documents (see :mod:`..codecs.json_docs`)."""

from __future__ import annotations

import decimal
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..codecs import CsvOptions, TextCodecError, parse_json_value, to_arrow_column
from ..codecs.json_docs import json_records
from .base import _BOM, _SURROGATE, META_PREFIX, Chunk, FileSet, Reject, Target, _assemble, _NativeRaw, _unreadable

# -- JSON Lines ------------------------------------------------------------------------------------


def read_jsonl_chunks(
    files: FileSet,
    rel: str,
    targets: Sequence[Target],
    binary_format: str,
    skip: Callable[[int, int], bool],
    allow_missing: bool,
    allow_extra: bool,
    known: frozenset[str],
    chunk_rows: int = 5000,
    *,
    encoding: str = "utf-8",
    allow_precision_loss: bool = False,
    csv: CsvOptions | None = None,
) -> Iterator[Chunk]:
    """Stream one JSON file: JSON Lines, a top-level array or multi-line documents (see
    :mod:`.codecs.json_docs`; blank lines skipped, not counted); a record that is not a JSON
    object, is not valid in ``encoding``, or whose values do not convert, is rejected with its
    text. From ``csv``: ``skip_records``/``max_records`` (per file) and ``null_strings`` (a
    string value equal to one is null)."""
    resource = files.name(rel)
    csv = csv or CsvOptions()
    parse = _JsonlParse(binary_format, encoding, allow_precision_loss, csv.null_strings)
    lines: list[bytes | str] = []
    low = csv.skip_records
    high = low + csv.max_records if csv.max_records >= 0 else None
    position = low
    for ordinal, line in enumerate(_jsonl_lines(files, rel, encoding)):
        if ordinal < low:
            continue
        if high is not None and ordinal >= high:
            break
        lines.append(line)
        if len(lines) >= chunk_rows:
            yield from _jsonl_chunk(resource, position, lines, targets, parse, skip, allow_missing, allow_extra, known)
            position += len(lines)
            lines = []
    if lines:
        yield from _jsonl_chunk(resource, position, lines, targets, parse, skip, allow_missing, allow_extra, known)


@dataclass(frozen=True)
class _JsonlParse:
    binary_format: str
    encoding: str
    allow_precision_loss: bool
    null_strings: tuple[str, ...] = ()


def _jsonl_lines(files: FileSet, rel: str, encoding: str = "utf-8") -> Iterator[bytes | str]:
    """The file's records (a leading UTF-8 BOM dropped): JSON Lines' non-blank lines as bytes, or
    the documents of an array / of multi-line documents as text; a file that cannot be read (a
    truncated gzip) stops with an :class:`InputError` naming it."""
    resource = files.name(rel)
    try:
        stream = files.open_stream(rel)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(resource, exc) from None
    with stream:
        buffered = io.BufferedReader(stream if not isinstance(stream, pa.NativeFile) else _NativeRaw(stream))
        bom = _BOM.encode()
        if buffered.peek(len(bom))[: len(bom)] == bom:
            buffered.read(len(bom))
        try:
            yield from json_records(buffered, encoding)
        except (OSError, pa.ArrowException, EOFError) as exc:
            raise _unreadable(resource, exc) from None


def jsonl_fields(files: FileSet, encoding: str = "utf-8") -> list[str] | None:
    """Every field name of every record of every file, in order of first appearance (JSON Lines
    has no header, and a record may lack fields others have, an export's range may be empty).
    Streams the files once (memory: one line); None for stdin, which can be read only once."""
    if files.files == ["-"]:
        return None
    seen: dict[str, None] = {}
    for rel in files.files:
        for line in _jsonl_lines(files, rel, encoding):
            try:
                # Leniently decoded: a bad byte in a value must not hide the record's fields.
                doc = json.loads(line if isinstance(line, str) else line.decode(encoding, errors="replace"))
            except ValueError:
                continue  # rejected when it is loaded
            if isinstance(doc, dict):
                for key in doc:
                    if key not in seen:
                        seen[key] = None
    return list(seen)


def _jsonl_chunk(
    resource: str,
    first: int,
    lines: list[bytes | str],
    targets: Sequence[Target],
    parse: _JsonlParse,
    skip: Callable[[int, int], bool],
    allow_missing: bool,
    allow_extra: bool,
    known: frozenset[str],
) -> Iterator[Chunk]:
    end = first + len(lines)
    if skip(first, end):
        return
    rejects: list[Reject] = []
    docs: list[dict[str, Any]] = []
    texts: list[str] = []
    ordinals: list[int] = []
    required = [] if allow_missing else [t.source for t in targets if not t.source.startswith(("writetime(", "ttl("))]
    for k, line in enumerate(lines):
        text, undecodable = _record_text(line, parse.encoding)
        doc, reason = (None, f"not valid {parse.encoding}: {undecodable}") if undecodable else _json_doc(text)
        if doc is not None:
            reason = _doc_fields_problem(doc, required, None if allow_extra else known)
        if reason:
            rejects.append(Reject(resource, first + k, text, reason))
            continue
        assert doc is not None
        docs.append(doc)
        texts.append(text)
        ordinals.append(first + k)
    columns, errors = [], []
    for t in targets:
        column, errs = _json_column(docs, t, parse)
        columns.append(column)
        errors.append(errs)
    nbytes = sum(len(x) for x in lines)
    yield _assemble(resource, first, end, ordinals, columns, errors, targets, texts.__getitem__, rejects, nbytes)


def _json_doc(text: str) -> tuple[dict[str, Any] | None, str]:
    """(the record's JSON object, or None and why not)."""
    try:
        doc = json.loads(text, parse_float=decimal.Decimal)
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(doc, dict):
        return None, f"not a JSON object but {type(doc).__name__}"
    return doc, ""


def _doc_fields_problem(doc: dict[str, Any], required: Sequence[str], known: frozenset[str] | None) -> str:
    """Why the record's fields reject it: a required one missing, or (``known`` given) an extra one."""
    missing = [name for name in required if name not in doc]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    if known is not None:
        extra = [key for key in doc if key not in known and not key.startswith(META_PREFIX)]
        if extra:
            return f"extra field(s) {', '.join(extra)}"
    return ""


def _json_column(docs: Sequence[dict[str, Any]], t: Target, parse: _JsonlParse) -> tuple[pa.Array, dict[int, str]]:
    """One target column from the records, and the rows whose value does not convert."""
    values: list[Any] = []
    errs: dict[int, str] = {}
    for i, doc in enumerate(docs):
        value = doc.get(t.source)
        if parse.null_strings and isinstance(value, str) and value in parse.null_strings:
            value = None
        try:
            values.append(
                parse_json_value(
                    value, t.field, binary_format=parse.binary_format, allow_precision_loss=parse.allow_precision_loss
                )
            )
        except TextCodecError as exc:
            errs[i] = str(exc)
            values.append(None)
    try:
        return to_arrow_column(values, t.field), errs
    except TextCodecError:
        pass
    # Rare (a value the parser accepted but Arrow cannot hold): find it value by value.
    built = []
    for i, v in enumerate(values):
        try:
            built.append(to_arrow_column([v], t.field))
        except TextCodecError as exc:
            errs[i] = str(exc)
            built.append(to_arrow_column([None], t.field))
    return (pa.concat_arrays(built) if built else to_arrow_column([], t.field)), errs


def _record_text(line: bytes | str, encoding: str) -> tuple[str, str]:
    """(the record's text, why it is not valid in the encoding or "")."""
    if isinstance(line, str):  # a document decoded with surrogateescape
        if _SURROGATE.search(line) is None:
            return line, ""
        shown = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return shown, "undecodable bytes"
    try:
        return line.decode(encoding).rstrip("\r\n"), ""
    except UnicodeDecodeError as exc:
        return line.decode(encoding, errors="replace").rstrip("\r\n"), str(exc)
