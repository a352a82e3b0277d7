"""File sinks: one range's record batches → deterministic, atomically published part files.

``{range_id}-part-{k:05d}.{ext}``: the same range always writes the same names, so a retried
range overwrites its own files instead of adding new ones, and :meth:`RangeWriter.close` removes
parts a previous, larger attempt left behind. Each part is published atomically by the storage
layer (temp file + rename locally, completed multipart upload on S3).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .errors import ConfigError
from .io import Storage

if TYPE_CHECKING:
    from .text_codecs import CsvOptions

FORMATS = ("parquet", "csv", "jsonl")
TEXT_COMPRESSIONS = {None: "", "none": "", "gzip": ".gz", "zstd": ".zst", "bz2": ".bz2"}
PARQUET_COMPRESSIONS = ("zstd", "snappy", "gzip", "lz4", "brotli", "none")


@dataclass(frozen=True)
class SinkOptions:
    format: str = "parquet"
    compression: str | None = None
    """Parquet: codec inside the file (default zstd). CSV/JSONL: gzip, zstd or bz2 around it (default none)."""
    max_rows_per_file: int | None = 1_000_000
    row_group_size: int = 128 * 1024
    csv: CsvOptions | None = None
    """CSV settings (and the binary format for JSON Lines); None means the DSBulk-compatible defaults."""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"unknown format {self.format!r}; one of {', '.join(FORMATS)}")
        if self.format == "parquet":
            if self.compression is not None and self.compression not in PARQUET_COMPRESSIONS:
                raise ConfigError(
                    f"unknown Parquet compression {self.compression!r}; one of {', '.join(PARQUET_COMPRESSIONS)}"
                )
        elif self.compression not in TEXT_COMPRESSIONS:
            raise ConfigError(f"unknown {self.format} compression {self.compression!r}; one of gzip, zstd, bz2")

    @property
    def extension(self) -> str:
        if self.format == "parquet":
            return "parquet"
        return self.format + TEXT_COMPRESSIONS[self.compression]

    @property
    def stream_compression(self) -> str | None:
        if self.format == "parquet" or self.compression in (None, "none"):
            return None
        return self.compression

    def fingerprint(self) -> dict[str, Any]:
        return {"format": self.format, "compression": self.compression, "csv": repr(self.csv)}


def _csv_options(options: SinkOptions) -> CsvOptions:
    from .text_codecs import CsvOptions

    return options.csv or CsvOptions()


@dataclass(frozen=True)
class PartFile:
    path: str
    rows: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes}


def part_name(range_id: str, index: int, options: SinkOptions) -> str:
    return f"{range_id}-part-{index:05d}.{options.extension}"


_PART_RE = re.compile(r"^(?P<range>.+)-part-(?P<index>\d{5})\.")


class RangeWriter:
    """Writes one range's batches into rolling part files; ``close()`` publishes, ``abort()`` discards."""

    def __init__(
        self, storage: Storage, range_id: str, schema: pa.Schema, options: SinkOptions, *, clean_stale: bool = True
    ):
        """:param clean_stale: on close, list the directory and delete this range's parts of earlier
        attempts; off where the id is new per attempt (Iceberg) or the store refuses listing
        (S3 Tables' table buckets)"""
        self.storage, self.range_id, self.schema, self.options = storage, range_id, schema, options
        self.clean_stale = clean_stale
        self.parts: list[PartFile] = []
        self._cm: Any = None
        self._stream: Any = None
        self._parquet: Any = None
        self._rows = 0
        self._bytes_in = 0

    # -- part lifecycle ------------------------------------------------------------------------

    def _open_part(self) -> None:
        name = part_name(self.range_id, len(self.parts), self.options)
        self._cm = self.storage.open_atomic(name, compression=self.options.stream_compression)
        self._stream = self._cm.__enter__()
        self._rows = 0
        if self.options.format == "parquet":
            import pyarrow.parquet as pq

            codec = self.options.compression or "zstd"
            self._parquet = pq.ParquetWriter(
                self._stream,
                self.schema,
                compression=None if codec == "none" else codec,
                write_statistics=True,
                use_dictionary=True,
            )
        elif self.options.format == "csv" and _csv_options(self.options).header:
            from .text_codecs import render_csv_header

            self._stream.write(render_csv_header(self.schema, _csv_options(self.options)))

    def _close_part(self) -> None:
        name = part_name(self.range_id, len(self.parts), self.options)
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        self._cm.__exit__(None, None, None)
        size = self._cm.bytes_written  # the stored (compressed) size, known without a HEAD request
        self._cm = self._stream = None
        self.parts.append(PartFile(name, self._rows, size if size is not None else self.storage.size(name)))

    def write(self, batch: pa.RecordBatch) -> None:
        offset = 0
        while offset < batch.num_rows:
            if self._cm is None:
                self._open_part()
            room = batch.num_rows - offset
            if self.options.max_rows_per_file:
                room = min(room, self.options.max_rows_per_file - self._rows)
            piece = batch.slice(offset, room)
            if self._parquet is not None:
                self._parquet.write_batch(piece, row_group_size=self.options.row_group_size)
            elif self.options.format == "csv":
                from .text_codecs import render_csv

                self._stream.write(render_csv(piece, _csv_options(self.options)))
            else:
                from .text_codecs import render_jsonl

                self._stream.write(render_jsonl(piece, _csv_options(self.options).binary_format))
            self._rows += piece.num_rows
            offset += room
            if self.options.max_rows_per_file and self._rows >= self.options.max_rows_per_file:
                self._close_part()

    def close(self) -> list[PartFile]:
        """Publish the last part and delete parts an earlier attempt of this range left beyond it."""
        if self._cm is not None:
            self._close_part()
        if not self.parts:
            # An empty range still gets one (empty) part, so the range is visibly done and typed.
            self._open_part()
            self._close_part()
        keep = {p.path for p in self.parts}
        for path in stale_parts(self.storage, self.range_id) if self.clean_stale else []:
            if path not in keep:
                self.storage.delete(path)
        return self.parts

    def abort(self, exc: BaseException | None = None) -> None:
        if self._cm is not None:
            with contextlib.suppress(Exception):
                if self._parquet is not None:
                    self._parquet.close()
            err = exc or RuntimeError("aborted")
            with contextlib.suppress(Exception):
                self._cm.__exit__(type(err), err, err.__traceback__)
            self._cm = self._stream = self._parquet = None


def stale_parts(storage: Storage, range_id: str) -> list[str]:
    out = []
    for path in storage.list():
        m = _PART_RE.match(path.rsplit("/", 1)[-1])
        if m and m.group("range") == range_id:
            out.append(path)
    return out
