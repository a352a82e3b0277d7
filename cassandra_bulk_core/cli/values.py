"""Turning parsed options into engine values: connection settings, token windows, timestamps,
mappings, listeners, and the checks that refuse conflicting or unusable options with one line."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..connection import ConnectionConfig
from ..connection_fields import CONNECTION_FIELDS
from ..errors import ConfigError
from ..ring import FULL_RING, TokenRange
from ..table import parse_qualified


def window(start: int | None, end: int | None) -> TokenRange:
    return TokenRange(FULL_RING.start if start is None else start, FULL_RING.end if end is None else end)


def split_list(text: str | None, sep: str = ",") -> tuple[str, ...] | None:
    return tuple(p.strip() for p in text.split(sep) if p.strip()) if text else None


def config(**kw: Any) -> ConnectionConfig:
    """Connection settings: flags (named by :data:`CONNECTION_FIELDS`) over the environment."""
    overrides: dict[str, Any] = {f.name: kw.get(f.param) for f in CONNECTION_FIELDS if f.flags}
    contact_points = overrides.pop("contact_points")
    password_file = kw.get("password_file") or os.environ.get("CASSANDRA_PASSWORD_FILE")
    if overrides.get("password") is None and password_file:
        overrides["password"] = _read_password(password_file)
    return ConnectionConfig.from_env(contact_points=contact_points, **overrides)


def _read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"--password-file {path}: {exc.strerror or exc}") from None


def qualified(table: str, keyspace: str | None) -> tuple[str, str]:
    """``-t ks.table`` and ``-k``: both may name the keyspace, but not two different ones."""
    if keyspace and "." in table and not table.startswith('"'):
        named = table.split(".", 1)[0]
        if named != keyspace:
            raise click.UsageError(f"-k {keyspace} and -t {table} name two keyspaces; give one")
    return parse_qualified(table, keyspace)


def props(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"catalog property {pair.split('=')[0]!r} needs KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def timestamp_micros(value: str | None) -> int | None:
    """An ISO-8601 time (``2025-01-01T00:00:00Z``) or integer epoch microseconds."""
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    import datetime as dt

    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return int(parsed.timestamp() * 1_000_000)


def csv_character(value: str) -> str:
    """``\\t`` typed on a command line is a tab (as DSBulk reads it)."""
    return "\t" if value == "\\t" else value


def mapping(text: str | None) -> dict[str, str | list[str]] | None:
    """DSBulk's named mapping: ``field1=col1, field2=col2`` (``:`` also separates). A field named
    twice fills every column it names (``v=v1, v=v2``); two fields for one column are refused by
    the load with one line."""
    if not text:
        return None
    out: dict[str, str | list[str]] = {}
    for pair in text.split(","):
        pair = pair.strip()
        if not pair:
            continue
        sep = "=" if "=" in pair else ":"
        field, ok, column = pair.partition(sep)
        if not ok:
            raise click.BadParameter(f"mapping entry {pair!r} needs field=column")
        name, col = field.strip(), column.strip()
        before = out.get(name)
        if before is None:
            out[name] = col
        else:
            cols = [before] if isinstance(before, str) else before
            out[name] = cols if col in cols else [*cols, col]
    return out


def writable_dir(path: str, option: str) -> None:
    """A local directory the command will write to: created if missing, else one line saying why not."""
    if "://" in path:
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot create it ({exc.strerror or exc})") from None
    if not os.path.isdir(path):
        raise ConfigError(f"{option} {path}: not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: not writable (permission denied)")


def embedded_warehouse(warehouse: str, catalog_props: tuple[str, ...]) -> None:
    """The embedded default catalog writes under --warehouse; a catalog given by properties does not."""
    if not catalog_props:
        writable_dir(warehouse, "--warehouse")


def load_iceberg_table(catalog: Any, ident: str) -> Any:
    """``catalog.load_table`` with a missing table (or namespace) as one line."""
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(ident)
    except (NoSuchTableError, NoSuchNamespaceError):
        raise ConfigError(f"Iceberg table {ident} does not exist (check --iceberg-table and the catalog)") from None


def listeners(name: str, kw: dict[str, Any], description: str) -> Any:
    """The listeners every long-running command offers (progress, JSON logs, metrics, webhook)."""
    from ..events import CompositeListener, LoggingListener, ProgressFileListener, RichProgressListener

    out: list[Any] = []
    if kw["log_json"]:
        _json_logging()
        out.append(LoggingListener(as_json=True))
    if kw["progress_file"]:
        out.append(ProgressFileListener(kw["progress_file"]))
    if kw["metrics_port"] is not None or kw["metrics_textfile"]:
        from ..events import PrometheusListener

        out.append(PrometheusListener(name, port=kw["metrics_port"], textfile=kw["metrics_textfile"]))
    if kw["webhook_url"]:
        from ..events import WebhookListener

        out.append(WebhookListener(kw["webhook_url"]))
    progress = kw["progress"]
    if progress if progress is not None else sys.stderr.isatty():
        out.append(RichProgressListener(description))
    return CompositeListener(out)


class _NoDriverTracebacks:
    """The driver logs a failed connection attempt with its traceback; the error line says it all."""

    def filter(self, record: Any) -> bool:
        if record.name.startswith("cassandra.") or record.name == "cassandra":
            record.exc_info = None
            record.exc_text = None
        return True


def _json_logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _NoDriverTracebacks) for f in handler.filters):
            handler.addFilter(_NoDriverTracebacks())
