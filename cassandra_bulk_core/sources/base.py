"""What every source shares: the records it yields (:class:`Chunk`, :class:`Reject`), the target
columns, the input files (:class:`FileSet`), and the errors of unreadable files."""

from __future__ import annotations

import fnmatch
import io
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import BulkError, ConfigError
from ..io import Storage, StorageOptions

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


# -- reading text: decoding, corrupt files --------------------------------------------------------


class InputError(BulkError):
    """A file that cannot be read at all (truncated or corrupt compression, not Parquet): the load
    stops naming the file. ``--resume`` would only meet it again, so no resume advice."""

    exit_code = 4
    transient = False


class _Undecodable(Exception):
    """A byte the input encoding cannot decode: the fast reader hands over to the tolerant one."""


_BOM = "\ufeff"


_SURROGATE = re.compile("[\udc80-\udcff]")
"""What ``surrogateescape`` decodes an undecodable byte to."""


def _unreadable(resource: str, exc: BaseException) -> InputError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"{resource}: cannot read the file (truncated or corrupt?): {reason}")


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
