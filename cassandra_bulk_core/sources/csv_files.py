"""CSV files: pyarrow tokenizes (streaming, a block at a time), every cell stays text until the
codecs type it; the tolerant reader (:mod:`.csv_tolerant`) takes over where pyarrow cannot."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..codecs import CsvOptions, parse_text_column
from ..codecs.csv_lines import CsvLineRewriter, RewrittenStream
from ..errors import ConfigError
from .base import _BOM, _SURROGATE, Chunk, FileSet, InputError, Reject, Target, _assemble, _Undecodable, _unreadable
from .csv_tolerant import _Block, _check_header, _python_blocks


class _Utf8Stream(io.RawIOBase):
    """The input as strict UTF-8 for pyarrow: a leading BOM dropped, other encodings transcoded,
    and any undecodable byte raising :class:`_Undecodable` (pyarrow's invalid-row handler cannot
    take invalid UTF-8, and its string columns would fail the whole block). A read error of the
    file itself (a truncated gzip) becomes an :class:`InputError` naming it."""

    def __init__(self, raw: Any, encoding: str, resource: str):
        self.raw = raw
        self.resource = resource
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
        self.bad: str | None = None
        self.pending = b""
        self.start = True
        self.eof = False

    def readable(self) -> bool:
        return True

    def _fill(self, size: int) -> None:
        while not self.pending and not self.eof:
            if self.bad is not None:
                raise _Undecodable(self.bad)
            try:
                data = self.raw.read(max(size, 1 << 16))
            except (OSError, pa.ArrowException, EOFError) as exc:
                raise _unreadable(self.resource, exc) from None
            self.eof = not data
            try:
                text = self.decoder.decode(bytes(data), final=self.eof)
            except UnicodeDecodeError as exc:  # an ASCII byte the codec refuses: no escape for it
                raise _Undecodable(str(exc)) from None
            if self.start and text:
                text = text.removeprefix(_BOM)
                self.start = False
            bad = _SURROGATE.search(text)
            if bad is not None:
                # Hand out the good text before it (the header, the records before); the next
                # read raises.
                byte = ord(bad.group()) - 0xDC00
                self.bad = f"byte 0x{byte:02x} is not {self.encoding}"
                text = text[: bad.start()]
                self.eof = False
            self.pending = text.encode("utf-8")

    def readinto(self, b: Any) -> int:
        self._fill(len(b))
        n = min(len(b), len(self.pending))
        b[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def _open_utf8(files: FileSet, rel: str, options: CsvOptions) -> io.BufferedReader[Any]:
    """The CSV file as UTF-8, comment lines dropped and a multi-character delimiter rewritten."""
    resource = files.name(rel)
    try:
        raw = files.open_stream(rel)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(resource, exc) from None
    stream: io.BufferedReader[Any] = io.BufferedReader(_Utf8Stream(raw, options.encoding, resource), 1 << 20)
    if options.rewrites_lines:
        return io.BufferedReader(RewrittenStream(stream, options), 1 << 20)
    return stream


# -- CSV -------------------------------------------------------------------------------------------


def csv_header(files: FileSet, options: CsvOptions) -> list[str] | None:
    """The field names from the header of the first file that has one (empty files, an export's
    empty ranges, are skipped); None without a header, on stdin (read once), or if every file is
    empty."""
    if not options.header or files.files == ["-"]:
        return None
    for rel in files.files:
        with _open_utf8(files, rel, options) as stream:
            try:
                names = _take_header(stream, options, files.name(rel))
            except _Undecodable as exc:
                raise InputError(f"{files.name(rel)}: the CSV header is not valid {options.encoding}: {exc}") from None
        if names is not None:
            return names
    return None


def _csv_parse(options: CsvOptions, handler: Any = None) -> Any:
    import pyarrow.csv as pacsv

    escape_is_quote = options.escape == options.quote
    return pacsv.ParseOptions(
        delimiter=options.tokenizer_delimiter,
        quote_char=options.quote,
        escape_char=False if escape_is_quote else options.escape,
        double_quote=escape_is_quote,
        newlines_in_values=True,
        ignore_empty_lines=True,
        invalid_row_handler=handler,
    )


def _csv_line(cells: Sequence[str | None], options: CsvOptions) -> str:
    """A record rebuilt from its cells, quoted so it reads back the same (for reject files)."""
    out = []
    q, e = options.quote, options.escape
    for cell in cells:
        if cell is None:
            out.append(options.null_string)
        else:
            out.append(q + cell.replace(e, e + e).replace(q, e + q) if e != q else q + cell.replace(q, q + q))
            out[-1] += q
    return options.delimiter.join(out)


def read_csv_chunks(
    files: FileSet,
    rel: str,
    targets: Sequence[Target],
    names: Sequence[str] | None,
    options: CsvOptions,
    skip: Callable[[int, int], bool],
    block_size: int = 4 << 20,
) -> Iterator[Chunk]:
    """Stream one CSV file. ``names``: the column names when the file has no header.

    pyarrow tokenizes; every cell is text until ``parse_text_column`` types it. A row with the
    wrong number of cells is rejected with its text and its own record number, and reading goes
    on. What pyarrow cannot take — a byte the encoding cannot decode, a field larger than a
    block — sends the rest of the file (from the first record not yet handed out) to Python's
    ``csv`` module, where such a record is rejected alone and a field may be any size.
    ``skip(first, end)`` tells whether a checkpoint already covers the ordinals ``[first, end)``.
    """
    resource = files.name(rel)
    done = 0
    blocks = _arrow_blocks(files, rel, resource, names, options, block_size)
    try:
        for block in _windowed(blocks, options):
            yield from _block_chunks(resource, block, targets, options, skip)
            done = block.end
        return
    except _Undecodable as exc:
        why = f"a byte that is not {options.encoding} ({exc})"
    except pa.ArrowInvalid as exc:
        why = str(exc).splitlines()[0]
    if rel == "-":
        raise InputError(f"stdin: cannot read record {done + 1} on: {why}")
    for block in _windowed(_python_blocks(files, rel, resource, names, options, done), options):
        yield from _block_chunks(resource, block, targets, options, skip)


def _windowed(blocks: Iterator[_Block], options: CsvOptions) -> Iterator[_Block]:
    """Only the records ``options.skip_records`` and ``max_records`` leave (per file); a block of
    skipped records still passes, empty, so its ordinals count as done. Stops reading at the end
    of the window."""
    low = options.skip_records
    high = low + options.max_records if options.max_records >= 0 else None
    if low == 0 and high is None:
        yield from blocks
        return
    for block in blocks:
        if high is not None and block.first >= high:
            return
        inside = [i for i, o in enumerate(block.ordinals) if o >= low and (high is None or o < high)]
        if len(inside) < len(block.ordinals) or block.first < low or (high is not None and block.end > high):
            index = pa.array(inside, pa.int64())
            cells = {n: c.take(index) for n, c in block.cells.items()}
            invalid = [r for r in block.invalid if r.ordinal >= low and (high is None or r.ordinal < high)]
            end = block.end if high is None else min(block.end, high)
            block = _Block(block.first, end, [block.ordinals[i] for i in inside], cells, invalid, block.nbytes)
        yield block


def _block_chunks(
    resource: str, block: _Block, targets: Sequence[Target], options: CsvOptions, skip: Callable[[int, int], bool]
) -> Iterator[Chunk]:
    if skip(block.first, block.end):
        return
    missing = [t.source for t in targets if t.source not in block.cells]
    if missing:
        have = ", ".join(block.cells)
        raise ConfigError(f"{resource}: no field(s) {', '.join(missing)} (the file has {have})")
    all_cells = list(block.cells.values())

    def raw(i: int) -> str:
        return _csv_line([c[i].as_py() for c in all_cells], options)

    columns, errors = [], []
    for t in targets:
        col, errs = parse_text_column(_cleaned(block.cells[t.source], options), t.field, options)
        columns.append(col)
        errors.append(errs)
    yield _assemble(
        resource, block.first, block.end, block.ordinals, columns, errors, targets, raw, block.invalid, block.nbytes
    )


def _arrow_blocks(
    files: FileSet, rel: str, resource: str, names: Sequence[str] | None, options: CsvOptions, block_size: int
) -> Iterator[_Block]:
    """pyarrow's streaming reader, single-threaded so the invalid-row handler knows each bad row's
    number: every record keeps its own ordinal however good and bad rows interleave."""
    import pyarrow.csv as pacsv

    invalid: dict[int, Reject] = {}

    def on_invalid(row: Any) -> str:
        ordinal = row.number - 1 if row.number is not None else -1
        reason = f"wrong number of fields: {row.actual_columns} instead of {row.expected_columns}"
        invalid[ordinal] = Reject(resource, ordinal, CsvLineRewriter(options).restore(row.text), reason)
        return "skip"

    with _open_utf8(files, rel, options) as stream:
        if options.header:
            header = _take_header(stream, options, resource)
            if header is None:
                return  # an empty file: nothing to load
            all_names = header
        else:
            all_names = list(names or [])
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=all_names, block_size=block_size, use_threads=False),
                parse_options=_csv_parse(options, on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(all_names, pa.string()),
                    strings_can_be_null=True,
                    null_values=[options.null_string],
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return  # a header and no records (an export's empty range): nothing to load
            raise
        position = 0
        for batch in reader:
            ordinals: list[int] = []
            at = position
            while len(ordinals) < batch.num_rows:
                if at not in invalid:
                    ordinals.append(at)
                at += 1
            end = at
            while end in invalid:
                end += 1
            bad = [invalid.pop(o) for o in sorted(o for o in invalid if o < end)]
            cells = dict(zip(all_names, batch.columns, strict=True))
            yield _Block(position, end, ordinals, cells, bad, batch.nbytes)
            position = end
        if invalid:  # rows rejected after the last good one
            bad = [invalid.pop(o) for o in sorted(invalid)]
            empty = {n: pa.array([], pa.string()) for n in all_names}
            yield _Block(position, max(r.ordinal for r in bad) + 1, [], empty, bad, 0)


def _cleaned(cells: pa.Array, options: CsvOptions) -> pa.Array:
    """Cells blank-trimmed and DSBulk's null strings made null, as the options say."""
    if options.ignore_leading_whitespaces:
        cells = pc.utf8_ltrim_whitespace(cells)
    if options.ignore_trailing_whitespaces:
        cells = pc.utf8_rtrim_whitespace(cells)
    if options.null_strings and len(cells):
        nulls = pc.fill_null(pc.is_in(cells, value_set=pa.array(options.null_strings, pa.string())), False)
        if pc.any(nulls).as_py():
            cells = pc.if_else(nulls, pa.scalar(None, cells.type), cells)
    return cells


def _take_header(stream: Any, options: CsvOptions, resource: str = "input") -> list[str] | None:
    """Read the header line off a UTF-8 stream (works for stdin too; blank lines before it are
    skipped) and leave the stream at the first record. None for an empty file."""
    import csv

    while True:
        first = stream.readline()
        if not first:
            return None
        line = first.decode("utf-8").rstrip("\r\n")
        if line.strip():
            break
    escape_is_quote = options.escape == options.quote
    row = next(
        csv.reader(
            [line],
            delimiter=options.tokenizer_delimiter,
            quotechar=options.quote,
            escapechar=None if escape_is_quote else options.escape,
            doublequote=escape_is_quote,
        ),
        [],
    )
    names = [name.strip() for name in row]
    _check_header(names, resource)
    return names
