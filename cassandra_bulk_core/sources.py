"""What a load reads: CSV, JSON Lines and Parquet files (local, ``s3://``, stdin) and Iceberg tables.

Every source yields :class:`Chunk` s: a batch of records already converted to the target columns'
canonical Arrow types (the types an export writes, see ``types``), the ordinal of each record in its
resource (file or table) for checkpoints, and the records that could not be read or converted, each
with its original text and the reason. The writer never sees a format; a new source only has to
produce chunks.
"""

from __future__ import annotations

import decimal
import fnmatch
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .errors import ConfigError
from .storage import Storage, StorageOptions
from .text_codecs import CsvOptions, TextCodecError, parse_csv_column, parse_json_value, to_arrow_column
from .types import conform_column

FORMATS = ("csv", "jsonl", "parquet", "iceberg")
_SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".csv.zst", ".csv.bz2", ".tsv"),
    "jsonl": (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".jsonl.zst", ".jsonl.bz2", ".json.gz"),
    "parquet": (".parquet",),
}
_COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2"}
META_PREFIX = "_cb_"
"""Columns an export adds (``_cb_range``, ``_cb_export_date``): never data, never 'extra'."""


@dataclass
class Reject:
    resource: str
    ordinal: int
    """0-based position of the record in its resource (header excluded)."""
    record: str
    """The original record (a CSV line, a JSON line, a Parquet/Iceberg row as JSON), reloadable."""
    reason: str
    field: str | None = None


@dataclass
class Chunk:
    resource: str
    batch: pa.RecordBatch
    """Good records, columns named and typed as the target columns."""
    ordinals: list[int]
    """The resource ordinal of each row of ``batch``."""
    first: int
    end: int
    """Ordinals ``[first, end)`` this chunk covers (good and rejected records)."""
    rejects: list[Reject] = field(default_factory=list)
    raw: Callable[[int], str] | None = None
    """The original text of a row of ``batch`` (for a write that fails later)."""
    nbytes: int = 0


@dataclass(frozen=True)
class Target:
    """One target column: the source field it is read from and its canonical Arrow field."""

    source: str
    field: pa.Field


def detect_format(uri: str, storage: StorageOptions | None = None) -> str:
    """The format from the name, or for a directory from the files in it (one format only)."""
    lowered = uri.lower().rstrip("/")
    for fmt, suffixes in _SUFFIXES.items():
        if lowered.endswith(suffixes):
            return fmt
    if uri != "-":
        try:
            names = Storage(uri, storage).list("")
        except Exception:
            names = []
        found = {
            fmt
            for n in names
            if not any(part.startswith(("_", ".")) for part in n.split("/"))
            for fmt, suffixes in _SUFFIXES.items()
            if n.lower().endswith(suffixes)
        }
        if len(found) == 1:
            return found.pop()
    raise ConfigError(f"cannot tell the format of {uri!r} from its name; pass --format csv|jsonl|parquet|iceberg")


def _compression(path: str) -> str | None:
    for suffix, codec in _COMPRESSION.items():
        if path.lower().endswith(suffix):
            return codec
    return None


class FileSet:
    """The files of a load: one file, or every matching file under a directory, sorted by name.

    Sorted so the order (and so checkpoints and reject ordinals) is the same on every run.
    ``-`` is standard input."""

    def __init__(self, uri: str, fmt: str, pattern: str | None = None, storage: StorageOptions | None = None):
        self.uri = uri
        self.fmt = fmt
        if uri == "-":
            self.storage = None
            self.files = ["-"]
            return
        self.storage = Storage(uri, storage)
        import pyarrow.fs as pafs

        if self.storage._info("").type == pafs.FileType.File:
            parent, _, base = uri.rstrip("/").rpartition("/")
            self.storage = Storage(parent or ".", storage)
            self.files = [base]
            return
        names = self.storage.list("")
        suffixes = _SUFFIXES.get(fmt, ())
        chosen = [
            n
            for n in names
            if not any(part.startswith(("_", ".")) for part in n.split("/"))
            and (fnmatch.fnmatch(n.rsplit("/", 1)[-1], pattern) if pattern else n.lower().endswith(suffixes))
        ]
        if not chosen:
            raise ConfigError(f"no {fmt} files in {self.storage.uri}" + (f" matching {pattern!r}" if pattern else ""))
        self.files = sorted(chosen)

    def name(self, rel: str) -> str:
        if rel == "-":
            return "stdin"
        assert self.storage is not None
        return self.storage.uri_of(rel)

    def open_stream(self, rel: str) -> Any:
        """A binary input stream, decompressed by the file's suffix."""
        if rel == "-":
            return pa.PythonFile(sys.stdin.buffer, mode="r")
        assert self.storage is not None
        raw = self.storage.open_input(rel)
        codec = _compression(rel)
        return pa.CompressedInputStream(raw, codec) if codec else raw

    def size(self, rel: str) -> int:
        if rel == "-" or self.storage is None:
            return 0
        return self.storage.size(rel)


# -- tolerant conversion: one bad value rejects its record, not the chunk --------------------------


def _parse_text_column(values: pa.Array, f: pa.Field, options: CsvOptions) -> tuple[pa.Array, dict[int, str]]:
    """``parse_csv_column`` that keeps going: a failing row is recorded and parsed as null."""
    errors: dict[int, str] = {}
    parts: list[pa.Array] = []
    start = 0
    n = len(values)
    while start < n:
        rest = values.slice(start)
        try:
            parts.append(parse_csv_column(rest, f, options))
            break
        except TextCodecError as exc:
            bad = exc.row or 0
            errors[start + bad] = str(exc)
            if bad:
                parts.append(parse_csv_column(values.slice(start, bad), f, options))
            parts.append(to_arrow_column([None], f))
            start += bad + 1
    if not parts:
        return to_arrow_column([], f), errors
    return (pa.concat_arrays(parts) if len(parts) > 1 else parts[0]), errors


def _assemble(
    resource: str,
    first: int,
    end: int,
    ordinals: list[int],
    columns: list[pa.Array],
    errors: list[dict[int, str]],
    targets: Sequence[Target],
    raw: Callable[[int], str],
    pre_rejects: list[Reject],
    nbytes: int,
) -> Chunk:
    """Drop the rows any column rejected; the rest form the chunk's batch."""
    bad: dict[int, tuple[str, str]] = {}
    for t, errs in zip(targets, errors, strict=True):
        for row, reason in errs.items():
            if row not in bad:
                bad[row] = (t.field.name, reason)
    rejects = list(pre_rejects)
    schema = pa.schema([t.field for t in targets])
    if bad:
        keep = [i for i in range(len(ordinals)) if i not in bad]
        for row in sorted(bad):
            column, reason = bad[row]
            rejects.append(Reject(resource, ordinals[row], raw(row), f"field {column!r}: {reason}", field=column))
        index = pa.array(keep, pa.int64())
        columns = [c.take(index) for c in columns]
        raw_all = raw
        ordinals_kept = [ordinals[i] for i in keep]

        def raw_kept(i: int) -> str:
            return raw_all(keep[i])

        batch = pa.RecordBatch.from_arrays(columns, schema=schema)
        return Chunk(resource, batch, ordinals_kept, first, end, rejects, raw_kept, nbytes)
    batch = pa.RecordBatch.from_arrays(columns, schema=schema)
    return Chunk(resource, batch, ordinals, first, end, rejects, raw, nbytes)


# -- CSV -------------------------------------------------------------------------------------------


def csv_header(files: FileSet, options: CsvOptions) -> list[str] | None:
    """The first file's header (the field names); None without a header or on stdin (read once)."""
    if not options.header or files.files == ["-"]:
        return None
    with files.open_stream(files.files[0]) as stream:
        return _take_header(stream, options)[0]


def _csv_parse(options: CsvOptions, handler: Any = None) -> Any:
    import pyarrow.csv as pacsv

    escape_is_quote = options.escape == options.quote
    return pacsv.ParseOptions(
        delimiter=options.delimiter,
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

    pyarrow tokenizes (fast, multi-threaded); every cell is text until ``parse_csv_column`` types
    it. A row with the wrong number of cells is rejected with its text (pyarrow's invalid-row
    handler) and reading goes on. ``skip(first, end)`` tells whether a checkpoint already covers
    the ordinals ``[first, end)``.
    """
    import pyarrow.csv as pacsv

    resource = files.name(rel)
    invalid: list[Reject] = []
    seen = [0]  # records tokenized so far, valid or not

    def on_invalid(row: Any) -> str:
        invalid.append(
            Reject(
                resource,
                -1,
                row.text,
                f"wrong number of fields: {row.actual_columns} instead of {row.expected_columns}",
            )
        )
        return "skip"

    wanted = [t.source for t in targets]
    with files.open_stream(rel) as stream:
        if options.header:
            all_names, stream = _take_header(stream, options)
        else:
            all_names = list(names or [])
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(column_names=all_names, block_size=block_size, use_threads=True),
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
        all_names = reader.schema.names
        missing = [w for w in wanted if w not in all_names]
        if missing:
            raise ConfigError(f"{resource}: no field(s) {', '.join(missing)} (the file has {', '.join(all_names)})")
        position = 0
        for batch in reader:
            # Invalid rows seen while this block was parsed come before or among its rows; their
            # exact interleaving is unknown, so they take the ordinals after the block's good rows.
            n = batch.num_rows
            bad_here, invalid[:] = list(invalid), []
            first, end = position, position + n + len(bad_here)
            position = end
            seen[0] = end
            for k, rej in enumerate(bad_here):
                rej.ordinal = first + n + k
            if skip(first, end):
                continue
            cells = [batch.column(all_names.index(w)) for w in wanted]
            all_cells = batch.columns

            def raw(i: int, _cols: list[Any] = all_cells) -> str:
                return _csv_line([c[i].as_py() for c in _cols], options)

            columns, errors = [], []
            for t, cell in zip(targets, cells, strict=True):
                col, errs = _parse_text_column(cell, t.field, options)
                columns.append(col)
                errors.append(errs)
            ordinals = list(range(first, first + n))
            yield _assemble(resource, first, end, ordinals, columns, errors, targets, raw, bad_here, batch.nbytes)
        if invalid:  # rows rejected after the last block
            first = position
            for k, rej in enumerate(invalid):
                rej.ordinal = first + k
            end = first + len(invalid)
            if not skip(first, end):
                empty = [to_arrow_column([], t.field) for t in targets]
                yield _assemble(resource, first, end, [], empty, [{} for _ in targets], targets, str, invalid, 0)


def _take_header(stream: Any, options: CsvOptions) -> tuple[list[str], Any]:
    """Read the header line off the stream (works for stdin too) and return the rest of it."""
    import csv

    first = bytearray()
    while True:
        byte = stream.read(1)
        if not byte or byte == b"\n":
            break
        first += byte
    line = first.decode("utf-8").rstrip("\r")
    escape_is_quote = options.escape == options.quote
    row = next(
        csv.reader(
            [line],
            delimiter=options.delimiter,
            quotechar=options.quote,
            escapechar=None if escape_is_quote else options.escape,
            doublequote=escape_is_quote,
        ),
        [],
    )
    return [name.strip() for name in row], stream


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
) -> Iterator[Chunk]:
    """Stream one JSON Lines file, one record per line; a line that is not a JSON object, or whose
    values do not convert, is rejected with its text."""
    resource = files.name(rel)
    with files.open_stream(rel) as stream:
        buffered = io.BufferedReader(stream if not isinstance(stream, pa.NativeFile) else _NativeRaw(stream))
        lines: list[bytes] = []
        position = 0
        for line in buffered:
            if not line.strip():
                continue
            lines.append(line)
            if len(lines) >= chunk_rows:
                yield from _jsonl_chunk(
                    resource, position, lines, targets, binary_format, skip, allow_missing, allow_extra, known
                )
                position += len(lines)
                lines = []
        if lines:
            yield from _jsonl_chunk(
                resource, position, lines, targets, binary_format, skip, allow_missing, allow_extra, known
            )


class _NativeRaw(io.RawIOBase):
    """A pyarrow stream as a Python raw stream, so ``io.BufferedReader`` can split its lines."""

    def __init__(self, native: pa.NativeFile):
        self.native = native

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.native.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _jsonl_chunk(
    resource: str,
    first: int,
    lines: list[bytes],
    targets: Sequence[Target],
    binary_format: str,
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
    for k, line in enumerate(lines):
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        try:
            doc = json.loads(line, parse_float=decimal.Decimal)
        except ValueError as exc:
            rejects.append(Reject(resource, first + k, text, f"not valid JSON: {exc}"))
            continue
        if not isinstance(doc, dict):
            rejects.append(Reject(resource, first + k, text, f"not a JSON object but {type(doc).__name__}"))
            continue
        if not allow_missing:
            missing = [t.source for t in targets if t.source not in doc]
            if missing:
                rejects.append(Reject(resource, first + k, text, f"missing field(s) {', '.join(missing)}"))
                continue
        if not allow_extra:
            extra = [key for key in doc if key not in known and not key.startswith(META_PREFIX)]
            if extra:
                rejects.append(Reject(resource, first + k, text, f"extra field(s) {', '.join(extra)}"))
                continue
        docs.append(doc)
        texts.append(text)
        ordinals.append(first + k)
    columns, errors = [], []
    for t in targets:
        values: list[Any] = []
        errs: dict[int, str] = {}
        for i, doc in enumerate(docs):
            try:
                values.append(parse_json_value(doc.get(t.source), t.field, binary_format=binary_format))
            except TextCodecError as exc:
                errs[i] = str(exc)
                values.append(None)
        try:
            columns.append(to_arrow_column(values, t.field))
        except TextCodecError:
            # Rare (a value the parser accepted but Arrow cannot hold): find it value by value.
            built = []
            for i, v in enumerate(values):
                try:
                    built.append(to_arrow_column([v], t.field))
                except TextCodecError as exc:
                    errs[i] = str(exc)
                    built.append(to_arrow_column([None], t.field))
            columns.append(pa.concat_arrays(built) if built else to_arrow_column([], t.field))
        errors.append(errs)
    nbytes = sum(len(x) for x in lines)
    yield _assemble(resource, first, end, ordinals, columns, errors, targets, texts.__getitem__, rejects, nbytes)


# -- Arrow sources: Parquet files, Iceberg tables ------------------------------------------------------


def _row_json(batch: pa.RecordBatch, i: int) -> str:
    row = batch.slice(i, 1).to_pylist()[0]
    return json.dumps(row, default=_json_default, ensure_ascii=False)


def _json_default(v: Any) -> Any:
    if isinstance(v, bytes):
        import base64

        return base64.b64encode(v).decode()
    return str(v)


def arrow_chunks(
    resource: str,
    batches: Iterator[pa.RecordBatch],
    targets: Sequence[Target],
    skip: Callable[[int, int], bool],
) -> Iterator[Chunk]:
    """Typed batches (Parquet, Iceberg) to chunks: each column cast to its canonical type; a
    value the cast refuses (out of range, lost precision) rejects its row, shown as JSON."""
    position = 0
    for batch in batches:
        n = batch.num_rows
        first, end = position, position + n
        position = end
        if n == 0 or skip(first, end):
            continue
        names = batch.schema.names
        columns, errors = [], []
        for t in targets:
            col, errs = conform_column(batch.column(names.index(t.source)), t.field)
            columns.append(col)
            errors.append(errs)

        def raw(i: int, _b: pa.RecordBatch = batch) -> str:
            return _row_json(_b, i)

        yield _assemble(resource, first, end, list(range(first, end)), columns, errors, targets, raw, [], batch.nbytes)


def parquet_schema(files: FileSet) -> pa.Schema:
    import pyarrow.parquet as pq

    assert files.storage is not None
    with files.storage.open_input(files.files[0]) as f:
        return pq.ParquetFile(f).schema_arrow


def read_parquet_chunks(
    files: FileSet, rel: str, targets: Sequence[Target], skip: Callable[[int, int], bool], batch_rows: int = 16_384
) -> Iterator[Chunk]:
    """Stream one Parquet file by record batches (bounded memory: one row group's columns at most)."""
    import pyarrow.parquet as pq

    assert files.storage is not None
    with files.storage.open_input(rel) as f:
        pf = pq.ParquetFile(f)
        columns = sorted({t.source for t in targets})
        yield from arrow_chunks(files.name(rel), pf.iter_batches(batch_size=batch_rows, columns=columns), targets, skip)


@dataclass(frozen=True)
class IcebergSource:
    """An Iceberg table to load from, as of a snapshot or a point in time, optionally filtered."""

    table: str
    catalog_name: str = "default"
    catalog_properties: Mapping[str, str] = field(default_factory=dict)
    warehouse: str = "warehouse"
    snapshot_id: int | None = None
    as_of: int | None = None
    """Epoch milliseconds: the snapshot current at that time."""
    row_filter: str | None = None
    columns: tuple[str, ...] | None = None

    def open(self) -> Any:
        from .iceberg import IcebergOptions, load_catalog

        catalog = load_catalog(
            IcebergOptions(
                catalog_name=self.catalog_name, catalog_properties=self.catalog_properties, warehouse=self.warehouse
            )
        )
        try:
            return catalog.load_table(self.table)
        except Exception as exc:
            raise ConfigError(f"Iceberg table {self.table!r} cannot be loaded: {str(exc).splitlines()[0]}") from None

    def snapshot(self, table: Any) -> int | None:
        if self.snapshot_id is not None:
            if table.snapshot_by_id(self.snapshot_id) is None:
                raise ConfigError(f"Iceberg table {self.table} has no snapshot {self.snapshot_id}")
            return self.snapshot_id
        if self.as_of is not None:
            snap = table.snapshot_as_of_timestamp(self.as_of)
            if snap is None:
                raise ConfigError(f"Iceberg table {self.table} has no snapshot at or before {self.as_of} ms")
            return int(snap.snapshot_id)
        current = table.current_snapshot()
        return None if current is None else int(current.snapshot_id)


def read_iceberg_chunks(
    table: Any,
    source: IcebergSource,
    snapshot_id: int | None,
    targets: Sequence[Target],
    row_filter: str | None,
    skip: Callable[[int, int], bool],
) -> Iterator[Chunk]:
    """Stream the table's rows (pyiceberg's batch reader: one data file at a time)."""
    if snapshot_id is None:
        return
    columns = tuple(sorted({t.source for t in targets}))
    scan = table.scan(
        row_filter=row_filter or "True" if row_filter else _always_true(),
        selected_fields=columns,
        snapshot_id=snapshot_id,
    )
    reader = scan.to_arrow_batch_reader()
    yield from arrow_chunks(f"iceberg:{source.table}@{snapshot_id}", iter(reader), targets, skip)


def _always_true() -> Any:
    from pyiceberg.expressions import AlwaysTrue

    return AlwaysTrue()
