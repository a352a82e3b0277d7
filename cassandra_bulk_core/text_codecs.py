"""Compatibility shim: the text codecs live in :mod:`cassandra_bulk_core.codecs`.

Public names are re-exported; private helpers (``_parse_blob``, ``_parse_timestamp``, ...) are
looked up in the package's modules on first use, so older importers keep working. Patch the
defining module (e.g. ``codecs.render._CHUNK_ROWS``), not this one.
"""

from __future__ import annotations

import importlib
from typing import Any

from .codecs import (
    BINARY_FORMATS,
    CsvOptions,
    TextCodecError,
    parse_csv_column,
    parse_json_value,
    parse_text_column,
    read_csv,
    read_jsonl,
    render_csv,
    render_csv_header,
    render_jsonl,
    to_arrow_column,
)

__all__ = [
    "BINARY_FORMATS",
    "CsvOptions",
    "TextCodecError",
    "parse_csv_column",
    "parse_json_value",
    "parse_text_column",
    "read_csv",
    "read_jsonl",
    "render_csv",
    "render_csv_header",
    "render_jsonl",
    "to_arrow_column",
]

_MODULES = (
    "base",
    "nodes",
    "columns",
    "temporal",
    "numbers",
    "values",
    "cql_literals",
    "csv_lines",
    "json_docs",
    "render",
    "parse_csv",
    "parse_json",
)


def __getattr__(name: str) -> Any:
    for module in _MODULES:
        mod = importlib.import_module(f"{__package__}.codecs.{module}")
        if hasattr(mod, name):
            return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
