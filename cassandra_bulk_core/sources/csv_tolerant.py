"""The tolerant CSV reader: Python's ``csv`` module, for what pyarrow's tokenizer cannot take (a
byte the encoding cannot decode, a field larger than a block). A bad record is rejected alone."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..codecs import CsvOptions
from ..codecs.csv_lines import CsvLineRewriter
from ..errors import ConfigError
from .base import _BOM, _SURROGATE, FileSet, InputError, Reject, _NativeRaw, _unreadable


@dataclass
class _Block:
    """Records read from a CSV file: the tokenized good ones and the ones with a wrong field count."""

    first: int
    end: int
    ordinals: list[int]
    cells: dict[str, pa.Array]
    """Every field of the file (string arrays, one value per good record)."""
    invalid: list[Reject]
    nbytes: int


_EMPTY_QUOTED = "\x00cb-empty\x00"


def _python_blocks(
    files: FileSet,
    rel: str,
    resource: str,
    names: Sequence[str] | None,
    options: CsvOptions,
    start: int,
    rows_per_block: int = 5000,
) -> Iterator[_Block]:
    """The tolerant reader: Python's ``csv`` over the text decoded with ``surrogateescape``, from
    record ``start`` on. A record holding an undecodable byte is rejected alone; fields may be
    any size. (``csv`` drops the quotes, so an empty quoted field is found in the record's text.)"""
    import csv

    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    try:
        raw = files.open_stream(rel)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(resource, exc) from None
    escape_is_quote = options.escape == options.quote
    with (
        raw,
        io.TextIOWrapper(
            io.BufferedReader(raw if not isinstance(raw, pa.NativeFile) else _NativeRaw(raw)),
            encoding=options.encoding,
            errors="surrogateescape",
            newline="",
        ) as text,
    ):
        consumed: list[str] = []
        reader = csv.reader(
            _tolerant_lines(text, options, consumed, resource),
            delimiter=options.tokenizer_delimiter,
            quotechar=options.quote,
            escapechar=None if escape_is_quote else options.escape,
            doublequote=escape_is_quote,
            strict=False,
        )
        all_names: list[str] | None = None if options.header else list(names or [])
        ordinal = 0
        rows: list[list[str | None]] = []
        block_ordinals: list[int] = []
        bad: list[Reject] = []
        block_first = start
        nbytes = 0
        while True:
            consumed.clear()
            try:
                record = next(reader, None)
            except csv.Error as exc:
                raise InputError(f"{resource}: record {ordinal + 1}: {exc}") from None
            if record is None:
                break
            if not record:
                continue  # a blank line
            if all_names is None:
                all_names = [n.strip() for n in record]
                _check_header(all_names, resource)
                continue
            line = "".join(consumed).rstrip("\r\n").replace(_EMPTY_QUOTED, "")
            here, ordinal = ordinal, ordinal + 1
            if here < start:
                continue
            nbytes += len(line)
            reject = _record_problem(record, all_names, options.encoding)
            if reject is not None:
                reason, at = reject
                shown = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                bad.append(Reject(resource, here, shown, reason, field=at))
            else:
                rows.append([_cell(c, options) for c in record])
                block_ordinals.append(here)
            if len(rows) + len(bad) >= rows_per_block:
                yield _python_block(all_names, rows, block_ordinals, bad, block_first, ordinal, nbytes)
                rows, block_ordinals, bad, block_first, nbytes = [], [], [], ordinal, 0
        if rows or bad:
            assert all_names is not None
            yield _python_block(all_names, rows, block_ordinals, bad, block_first, max(ordinal, start), nbytes)


def _tolerant_lines(text: Any, options: CsvOptions, consumed: list[str], resource: str) -> Iterator[str]:
    """The lines for Python's ``csv``: BOM off, comments dropped, a long delimiter rewritten, an
    empty quoted field marked; each original line is also appended to ``consumed``."""
    q, d = re.escape(options.quote), re.escape(options.tokenizer_delimiter)
    empty_quoted = re.compile(f"(?:^|(?<={d})){q}{q}(?={d}|\\r?\\n|$)")
    mark = options.escape != options.quote
    rewriter = CsvLineRewriter(options) if options.rewrites_lines else None
    first = True
    try:
        for original in text:
            if first:
                original, first = original.removeprefix(_BOM), False
            line = rewriter.rewrite(original) if rewriter is not None else original
            if line is None:
                continue  # a comment
            consumed.append(original)
            yield empty_quoted.sub(options.quote + _EMPTY_QUOTED + options.quote, line) if mark else line
    except (OSError, pa.ArrowException, EOFError) as exc:
        raise _unreadable(resource, exc) from None


def _record_problem(record: list[str], names: list[str], encoding: str) -> tuple[str, str | None] | None:
    """(why the record is rejected, the field) or None."""
    if len(record) != len(names):
        return f"wrong number of fields: {len(record)} instead of {len(names)}", None
    for i, cell in enumerate(record):
        if _has_surrogate(cell):
            return f"field {names[i]!r}: bytes that are not valid {encoding}", names[i]
    return None


def _has_surrogate(cell: str) -> bool:
    return not cell.isascii() and _SURROGATE.search(cell) is not None


def _cell(cell: str, options: CsvOptions) -> str | None:
    if cell == _EMPTY_QUOTED:
        return ""
    return None if cell == options.null_string else cell


def _python_block(
    names: list[str],
    rows: list[list[str | None]],
    ordinals: list[int],
    bad: list[Reject],
    first: int,
    end: int,
    nbytes: int,
) -> _Block:
    cells = {n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)}
    return _Block(first, end, list(ordinals), cells, list(bad), nbytes)


def _check_header(names: list[str], resource: str) -> None:
    """A field named twice would load one column and drop the other: refuse it."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"{resource}: the CSV header names the field {name!r} twice")
        seen.add(name)
