"""What a load reads: CSV, JSON Lines and Parquet files (local, ``s3://``, stdin) and Iceberg tables.

Every source yields :class:`Chunk` s: a batch of records already converted to the target columns'
canonical Arrow types (the types an export writes, see ``types``), the ordinal of each record in its
resource (file or table) for checkpoints, and the records that could not be read or converted, each
with its original text and the reason. The writer never sees a format; a new source only has to
produce chunks.

Modules: :mod:`.base` (chunks, rejects, targets, files), :mod:`.csv_files` and
:mod:`.csv_tolerant` (CSV), :mod:`.json_files` (JSON), :mod:`.arrow_files` (Parquet, Iceberg).
"""

from __future__ import annotations

from .arrow_files import (
    IcebergSource,
    _row_json,
    arrow_chunks,
    parquet_schema,
    read_iceberg_chunks,
    read_parquet_chunks,
)
from .base import FORMATS, META_PREFIX, Chunk, FileSet, InputError, Reject, Target, detect_format
from .csv_files import _csv_line, csv_header, read_csv_chunks
from .json_files import jsonl_fields, read_jsonl_chunks

__all__ = [
    "FORMATS",
    "META_PREFIX",
    "Chunk",
    "FileSet",
    "IcebergSource",
    "InputError",
    "Reject",
    "Target",
    "_csv_line",
    "_row_json",
    "arrow_chunks",
    "csv_header",
    "detect_format",
    "jsonl_fields",
    "parquet_schema",
    "read_csv_chunks",
    "read_iceberg_chunks",
    "read_jsonl_chunks",
    "read_parquet_chunks",
]
