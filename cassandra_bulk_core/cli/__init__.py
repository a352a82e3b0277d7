"""The ``cassandra-bulk`` command line: ``ranges``, ``count``, ``export``, ``load``, ``verify``,
``iceberg-maintenance``.

Option names follow DSBulk where it helps a migration (``-k -t -h -u -p``, ``--consistency``).
Errors the engine raises on purpose print as one line and set the exit code; anything else is a bug
and keeps its traceback.

| module | holds |
|---|---|
| `app.py` | the click group, `-f/--config` TOML defaults |
| `options.py` | option groups as decorators: connection (derived from `connection_fields.py`), table,
  window, scan, output, csv, iceberg, progress |
| `values.py` | options → engine values; conflicting or unusable options refused with one line |
| `count.py` | `ranges`, `count` |
| `export.py` | `export` |
| `load.py` | `load` (DSBulk option names via `cli_dsbulk.py`) |
| `iceberg.py` | `verify`, `iceberg-maintenance` |
| `errors.py` | `main`: one line and an exit code per kind of error |
"""

from __future__ import annotations

from . import count, export, iceberg, load  # noqa: F401 - registers the commands
from .app import CONTEXT, cli
from .errors import main
from .values import mapping as _mapping

__all__ = ["CONTEXT", "_mapping", "cli", "main"]
