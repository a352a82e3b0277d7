"""Option groups shared by the commands, as decorators: ``@connection_options`` and friends.

The connection group is derived from :data:`~cassandra_bulk_core.connection_fields.CONNECTION_FIELDS`
(the one declaration of every connection setting); the others are written once here and used by
every command that takes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..connection_fields import CONNECTION_FIELDS, ConnectionField

Decorator = Callable[[Any], Any]


def group(*options: Decorator) -> Decorator:
    """Several options as one decorator, listed in ``--help`` in the order given."""

    def apply(fn: Any) -> Any:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


def _connection_option(f: ConnectionField) -> Decorator:
    kind: Any = f.kind
    if f.choices:
        kind = click.Choice(f.choices, case_sensitive=False)
    elif f.kind is float:
        kind = click.FloatRange(min=0, min_open=True)
    if f.kind is bool:
        return click.option(*f.flags, f.param, default=None, help=f.help)
    return click.option(*f.flags, f.param, type=kind, help=f.help)


connection_options = group(
    *(_connection_option(f) for f in CONNECTION_FIELDS if f.flags),
    click.option(
        "--password-file",
        type=click.Path(dir_okay=False),
        help="read the password from this file (first line) [env CASSANDRA_PASSWORD_FILE]",
    ),
)

table_options = group(
    click.option("-k", "--keyspace", help="keyspace (or write ks.table)"),
    click.option("-t", "--table", required=True, help="table name or ks.table"),
)

window_options = group(
    click.option("--start-token", type=int, help="first token (exclusive) of an explicit token window"),
    click.option("--end-token", type=int, help="last token (inclusive) of an explicit token window"),
)


def splits_option(help: str = "number of equal ranges") -> Decorator:
    return click.option("--splits", "-s", type=int, default=16, show_default=True, help=help)


processes_option = click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="worker processes, each with its own connection and a share of the ranges "
    "(uses more than one core); 0 = one per core, capped by the ranges",
)

catalog_options = group(
    click.option(
        "--warehouse",
        default="warehouse",
        show_default=True,
        help="embedded default catalog: SQLite catalog + data under this directory",
    ),
    click.option("--catalog", default="default", show_default=True, help="pyiceberg catalog name"),
    click.option(
        "--catalog-prop",
        "catalog_props",
        multiple=True,
        metavar="KEY=VALUE",
        help="pyiceberg catalog property (repeat); given any, the embedded default is not used",
    ),
)

iceberg_options = group(catalog_options, click.option("--iceberg-table", help="namespace.table [keyspace.table]"))

s3_option = click.option("--s3-endpoint-url", help="S3-compatible endpoint (credentials from the AWS chain)")

binary_format_option = click.option(
    "--binary-format", type=click.Choice(["BASE64", "HEX"]), default="BASE64", show_default=True
)

csv_common_options = group(
    click.option("--header/--no-header", default=True, help="CSV header line"),
    click.option("--delimiter", "-delim", default=",", show_default=True, help="CSV delimiter"),
)

null_string_option = click.option("--null-string", default="", help="CSV text for null (default: empty)")

csv_output_options = group(csv_common_options, null_string_option, binary_format_option)

csv_input_options = group(
    csv_common_options,
    click.option("--quote", default='"', show_default=True, help="CSV quote character"),
    click.option("--escape", default="\\", show_default=True, help="CSV escape character"),
    null_string_option,
    click.option(
        "--null-strings", help="more texts read as null, quoted or not, comma separated (DSBulk -nullStrings)"
    ),
    click.option("--comment", default="", help="CSV: skip lines starting with this character (default: none)"),
    click.option(
        "--skip-records", type=click.IntRange(min=0), default=0, help="records skipped at the start of each file"
    ),
    click.option("--max-records", type=int, default=-1, help="records read from each file at most (default: all)"),
    click.option(
        "--ignore-leading-whitespaces/--no-ignore-leading-whitespaces", default=False, help="CSV: strip leading blanks"
    ),
    click.option(
        "--ignore-trailing-whitespaces/--no-ignore-trailing-whitespaces",
        default=False,
        help="CSV: strip trailing blanks",
    ),
    binary_format_option,
    click.option(
        "--encoding", default="utf-8", show_default=True, help="CSV/JSON input encoding; a bad byte rejects its record"
    ),
    click.option(
        "--allow-precision-loss",
        is_flag=True,
        help="round numbers a float/double cannot hold exactly (DSBulk --codec.overflowStrategy TRUNCATE); "
        "default: reject",
    ),
)


def progress_options(webhook_help: str) -> Decorator:
    """Progress bar, JSON logs, progress file, Prometheus metrics and a webhook."""
    return group(
        click.option("--progress/--no-progress", default=None, help="progress bar (default: on a terminal)"),
        click.option("--log-json", is_flag=True, help="JSON log lines with the operation id on stderr"),
        click.option("--progress-file", help="keep a JSON progress file here for external monitoring"),
        click.option("--metrics-port", type=int, help="serve Prometheus metrics on this port (extra: metrics)"),
        click.option("--metrics-textfile", help="write Prometheus metrics to this file (node-exporter textfile)"),
        click.option("--webhook-url", help=webhook_help),
    )


scan_options = group(
    click.option("--streams", type=int, default=4, show_default=True, help="queries in flight per range"),
    click.option("--page-size", type=int, default=5000, show_default=True),
    click.option(
        "--retry-seconds",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="keep asking for a failed page (next replica, backoff) at least this long before its range fails",
    ),
    click.option("--max-rows-per-file", type=int, default=1_000_000, show_default=True),
    click.option("--writetime/--no-writetime", default=False, help="add writetime(col) and ttl(col) fields"),
    click.option("--written-after", help="only rows with a cell written at/after this time (ISO-8601 or epoch µs)"),
    click.option("--written-before", help="only rows whose newest cell was written before this time"),
)

output_options = group(
    click.option("-url", "--url", "destination", help="destination directory: a path or s3://bucket/prefix"),
    click.option(
        "--format",
        "-c",
        "fmt",
        type=click.Choice(["parquet", "csv", "jsonl", "json"]),
        default="parquet",
        show_default=True,
        help="file format (json = JSON Lines)",
    ),
    click.option("--compression", help="parquet: zstd|snappy|gzip|lz4|none; csv/jsonl: gzip|zstd|bz2"),
    click.option("--columns", help="comma-separated columns to export (default: all)"),
)

iceberg_target_options = group(
    click.option(
        "--to",
        "target",
        type=click.Choice(["files", "iceberg"]),
        default="files",
        show_default=True,
        help="write files to --url, or commit to an Iceberg table",
    ),
    click.option(
        "--mode",
        type=click.Choice(["mirror", "daily", "single", "incremental"]),
        default="mirror",
        show_default=True,
        help="Iceberg: replace each range (mirror), file rows under --export-date (daily), or one commit",
    ),
    click.option("--export-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Iceberg daily mode [today, UTC]"),
    click.option("--sort-by", help="Iceberg: comma-separated sort order columns for a new table"),
    click.option(
        "--partition-by",
        help="Iceberg: extra partition transforms for a new table, ';'-separated, e.g. 'day(at);bucket(16, id)'",
    ),
)
