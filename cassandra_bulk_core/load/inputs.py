"""The resources a load reads (files or an Iceberg snapshot) and their chunks, minus what a
checkpoint or the token range rules out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..ring import range_by_id
from ..sources import (
    Chunk,
    FileSet,
    IcebergSource,
    csv_header,
    detect_format,
    parquet_schema,
    read_csv_chunks,
    read_iceberg_chunks,
    read_jsonl_chunks,
    read_parquet_chunks,
)
from ..table import TableInfo
from .checkpoint import Checkpoint
from .mapping import _is_function, _Plan, positional
from .options import LoadOptions, LoadResult


@dataclass
class _Source:
    """What a load reads: files or an Iceberg table (and its snapshot), and the fields it has."""

    fmt: str
    files: FileSet | None = None
    ice_table: Any = None
    snapshot: int | None = None
    header: str | None = None
    """The CSV header line (written at the top of the reject files)."""
    fields: list[str] | None = None
    """The source's field names; None if unknown before reading (stdin)."""
    fields_from_stdin: bool = False
    """A CSV header on stdin: the fields are learned from its first line as it is read."""

    @property
    def resource_count(self) -> int:
        return len(self.files.files) if self.files else 1


def source_format(options: LoadOptions) -> str:
    return options.format or ("iceberg" if options.iceberg else detect_format(options.source, options.storage))


def open_source(info: TableInfo, options: LoadOptions, fmt: str, jsonl_fields: list[str] | None = None) -> _Source:
    """Open the source and find its fields (a CSV header, a Parquet schema, every JSON field);
    ``jsonl_fields``: the JSON fields already found (a worker process is given its parent's, so
    the files are not read once more just for them)."""
    if fmt == "iceberg":
        src = options.iceberg or IcebergSource(table=options.source)
        ice_table = src.open()
        snapshot = src.snapshot(ice_table)
        ice_fields = [f.name for f in ice_table.schema().fields]
        fields = [f for f in ice_fields if not src.columns or f in src.columns]
        return _Source(fmt, ice_table=ice_table, snapshot=snapshot, fields=fields)
    files = FileSet(options.source, fmt, options.file_pattern, options.storage)
    source = _Source(fmt, files)
    if fmt == "csv":
        names = csv_header(files, options.csv)
        if names is not None:
            source.fields = names
            source.header = options.csv.delimiter.join(names)
        elif not options.csv.header:
            # No header: fields by position with a positional mapping (-m '0=k, 1=v'), else the
            # table's columns in order.
            source.fields = _positions(files, options) if positional(options.mapping) else list(info.columns)
        source.fields_from_stdin = files.files == ["-"] and options.csv.header
    elif fmt == "parquet":
        source.fields = parquet_schema(files).names
    else:
        source.fields = jsonl_fields if jsonl_fields is not None else _jsonl_fields(files, options.csv.encoding)
    return source


def _positions(files: FileSet, options: LoadOptions) -> list[str]:
    """Field names of a header-less CSV mapped by position: ``"0"`` … ``"n-1"``, n the number of
    fields of the first record (or the mapping's last position + 1, if more, or on stdin)."""
    named = [int(f) for f in options.mapping or {} if not _is_function(f)]
    width = max(named, default=-1) + 1
    if files.files != ["-"]:
        width = max(width, _first_record_width(files, options))
    return [str(i) for i in range(width)]


def _first_record_width(files: FileSet, options: LoadOptions) -> int:
    """The number of fields of the first non-blank record of the first file that has one; 0 if
    none can be read (the reader reports why when it gets there)."""
    import csv

    csv_options = options.csv
    escape_is_quote = csv_options.escape == csv_options.quote
    for rel in files.files:
        try:
            with files.open_stream(rel) as stream:
                reader = csv.reader(
                    _text_lines(stream, csv_options.encoding),
                    delimiter=csv_options.delimiter,
                    quotechar=csv_options.quote,
                    escapechar=None if escape_is_quote else csv_options.escape,
                    doublequote=escape_is_quote,
                )
                for row in reader:
                    if any(cell.strip() for cell in row):
                        return len(row)
        except (OSError, ValueError, csv.Error):
            return 0
    return 0


def _text_lines(stream: Any, encoding: str) -> Iterator[str]:
    """A binary stream's lines as text (line ends kept), read a block at a time."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = ""
    while True:
        block = stream.read(1 << 16)
        pending += decoder.decode(block, final=not block)
        lines = pending.splitlines(keepends=True)
        pending = lines.pop() if lines and block and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
        if not block:
            return


def _jsonl_fields(files: FileSet, encoding: str = "utf-8") -> list[str] | None:
    """Every field of every JSON record of every file (JSON Lines has no header): a record may
    lack fields later ones have, and an export's first range file may be empty, which must not
    drop its writetime()/ttl() fields. One streaming pass; None for stdin."""
    from ..sources import jsonl_fields

    return jsonl_fields(files, encoding)


def _chunks(
    fmt: str,
    files: FileSet | None,
    ice_table: Any,
    options: LoadOptions,
    plan: _Plan,
    snapshot: int | None,
    checkpoint: Checkpoint,
    result: LoadResult,
    owner: Callable[[int], Callable[[int, int], bool]] | None = None,
    count_complete: bool = True,
) -> Iterator[tuple[str, Iterator[Chunk]]]:
    """(resource name, its chunks) for every resource not finished by an earlier run.

    ``owner(i)`` (a worker process's share of the load, see ``processes``): for the ``i``-th
    resource, a predicate telling whether the block ``[first, end)`` the reader is about to convert
    is this worker's; the others are skipped before conversion. ``count_complete``: whether the
    records of resources an earlier run finished count as ``skipped_resumed`` here (one worker
    counts them for all)."""

    def skipper(resource: str, index: int = 0) -> Callable[[int, int], bool]:
        done = checkpoint.done.get(resource)
        owns = owner(index) if owner is not None else None

        def skip(a: int, b: int) -> bool:
            if owns is not None and not owns(a, b):
                return True  # another worker's block
            if done is not None and done.covers(a, b):
                result.skipped_resumed += b - a
                return True
            return False

        return skip

    if fmt == "iceberg":
        src = options.iceberg or IcebergSource(table=options.source)
        resource = f"iceberg:{src.table}@{snapshot}"
        if resource in checkpoint.complete:
            if count_complete:
                result.skipped_resumed += checkpoint.done[resource].total()
            return
        row_filter = src.row_filter
        fields = [f.name for f in ice_table.schema().fields]
        if options.only_range and "_cb_range" in fields and _export_splits(ice_table, snapshot) == _count(options):
            # Our export's range column narrows the scan; the token filter still checks every row.
            by_range = f"_cb_range = '{options.only_range}'"
            row_filter = by_range if not row_filter else f"({row_filter}) and {by_range}"
        yield resource, read_iceberg_chunks(ice_table, src, snapshot, plan.targets, row_filter, skipper(resource))
        return
    assert files is not None
    known = frozenset(t.source for t in plan.targets)
    for index, rel in enumerate(files.files):
        resource = files.name(rel)
        if resource in checkpoint.complete:
            if count_complete:
                result.skipped_resumed += checkpoint.done[resource].total()
            continue
        if options.only_range and _other_range_file(rel, options.only_range):
            continue
        skip = skipper(resource, index)
        if fmt == "csv":
            names = None if options.csv.header else (plan.source_fields or list(plan.columns))
            yield resource, read_csv_chunks(files, rel, plan.targets, names, options.csv, skip)
        elif fmt == "jsonl":
            yield (
                resource,
                read_jsonl_chunks(
                    files,
                    rel,
                    plan.targets,
                    options.csv.binary_format,
                    skip,
                    options.allow_missing_fields,
                    options.allow_extra_fields,
                    known,
                    encoding=options.csv.encoding,
                    allow_precision_loss=options.csv.allow_precision_loss,
                    csv=options.csv,
                ),
            )
        else:
            yield resource, read_parquet_chunks(files, rel, plan.targets, skip)


def _export_splits(table: Any, snapshot_id: int | None) -> int | None:
    """The split count of the cassandra-bulk export that wrote the snapshot (from its summary:
    ``r03-of-16`` or ``16 ranges``); None if it is not ours or says nothing."""
    import re

    if snapshot_id is None:
        return None
    snap = table.snapshot_by_id(snapshot_id)
    summary = snap.summary if snap is not None else None
    text = summary.get("cassandra-bulk.ranges") if summary is not None else None
    if not text:
        return None
    found = re.search(r"-of-(\d+)$", text) or re.search(r"^(\d+) ranges$", text)
    return int(found.group(1)) if found else None


def _other_range_file(rel: str, range_id: str) -> bool:
    """Files an export wrote are named for their range (``r03-of-16-part-00000.parquet``): with the
    same split count, a file of another range holds none of this range's rows."""
    name = rel.rsplit("/", 1)[-1]
    head, sep, _ = name.partition("-part-")
    if not sep or "-of-" not in head:
        return False
    try:
        theirs = range_by_id(head)
        mine = range_by_id(range_id)
    except ValueError:
        return False
    return theirs.count == mine.count and theirs.index != mine.index


def _count(options: LoadOptions) -> int | None:
    try:
        return range_by_id(options.only_range).count if options.only_range else None
    except ValueError:
        return None
