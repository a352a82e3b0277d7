"""The ``cassandra-bulk`` command line: ``ranges``, ``count``, ``export``, ``load``, ``verify``.

Option names follow DSBulk where it helps a migration (``-k -t -h -u -p``, ``--consistency``).
Errors the engine raises on purpose print as one line and set the exit code; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from . import __version__
from .connection import CONSISTENCY_LEVELS, ConnectionConfig
from .count import count_table
from .errors import BulkError
from .ring import FULL_RING, TokenRange, plan_ranges
from .table import parse_qualified, resolve_table

CONTEXT = {"help_option_names": ["--help"], "auto_envvar_prefix": "CASSANDRA_BULK"}


def _connection_options(fn: Any) -> Any:
    options = [
        click.option("-h", "--host", "hosts", help="contact points, comma separated [env CASSANDRA_CONTACT_POINTS]"),
        click.option("--port", type=int, help="CQL port [9042]"),
        click.option("-u", "--username", help="user name [env CASSANDRA_USERNAME]"),
        click.option("-p", "--password", help="password [env CASSANDRA_PASSWORD]"),
        click.option("--local-dc", help="local datacenter: queries go to its replicas first"),
        click.option(
            "--consistency",
            "-cl",
            type=click.Choice(CONSISTENCY_LEVELS, case_sensitive=False),
            help="consistency level [LOCAL_ONE]",
        ),
        click.option("--request-timeout", type=float, help="seconds per request [60]"),
        click.option("--ssl/--no-ssl", "ssl_enabled", default=None, help="TLS to the cluster"),
        click.option("--ssl-ca", "ssl_ca_file", help="CA certificate file (PEM) that signed the nodes' certificates"),
        click.option("--ssl-cert", "ssl_cert_file", help="client certificate (PEM) for mutual TLS"),
        click.option("--ssl-key", "ssl_key_file", help="client private key (PEM) for mutual TLS"),
        click.option(
            "--ssl-verify-hostname/--no-ssl-verify-hostname",
            default=None,
            help="check the node certificate's host name [on]",
        ),
        click.option("-b", "--secure-connect-bundle", help="DataStax Astra secure connect bundle (zip)"),
        click.option("--protocol-version", type=int, help="native protocol version (default: negotiated)"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _window_options(fn: Any) -> Any:
    fn = click.option("--end-token", type=int, help="last token (inclusive) of an explicit token window")(fn)
    fn = click.option("--start-token", type=int, help="first token (exclusive) of an explicit token window")(fn)
    return fn


def _window(start: int | None, end: int | None) -> TokenRange:
    return TokenRange(FULL_RING.start if start is None else start, FULL_RING.end if end is None else end)


def _config(**kw: Any) -> ConnectionConfig:
    names = (
        "port",
        "username",
        "password",
        "local_dc",
        "consistency",
        "request_timeout",
        "ssl_enabled",
        "ssl_ca_file",
        "ssl_cert_file",
        "ssl_key_file",
        "ssl_verify_hostname",
        "secure_connect_bundle",
        "protocol_version",
    )
    overrides: dict[str, Any] = {n: kw.get(n) for n in names}
    return ConnectionConfig.from_env(contact_points=kw.get("hosts"), **overrides)


def _iceberg_options(fn: Any) -> Any:
    options = [
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
        click.option("--iceberg-table", help="namespace.table [keyspace.table]"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _props(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"catalog property {pair.split('=')[0]!r} needs KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _load_config_file(ctx: click.Context, _param: click.Parameter, path: str | None) -> None:
    """A TOML file of defaults: ``[export]`` / ``[count]`` tables keyed by option name, plus shared keys
    at the top (``host``, ``port``, ``username``...). Command-line flags win over the file."""
    if not path:
        return
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read config file {path}: {exc}") from None
    shared = {k.replace("-", "_"): v for k, v in doc.items() if not isinstance(v, dict)}
    if "host" in shared:
        shared["hosts"] = shared.pop("host")
    ctx.default_map = {
        name: {**shared, **{k.replace("-", "_"): v for k, v in doc.get(name, {}).items()}}
        for name in ("count", "export", "load")
    }


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="cassandra-bulk")
@click.option(
    "-f",
    "--config",
    "config_file",
    callback=_load_config_file,
    expose_value=False,
    is_eager=True,
    type=click.Path(dir_okay=False),
    help="TOML file of option defaults (flags win)",
)
def cli() -> None:
    """Move whole Cassandra tables in and out at full speed, by token range."""


@cli.command(context_settings=CONTEXT)
@click.option("--splits", "-s", type=int, default=16, show_default=True, help="number of equal ranges")
@_window_options
@click.option("--json", "as_json", is_flag=True, help="print JSON (tokens as strings)")
def ranges(splits: int, start_token: int | None, end_token: int | None, as_json: bool) -> None:
    """Print the stable range plan: range i of N depends only on N and i."""
    plan = plan_ranges(splits, _window(start_token, end_token))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in plan], indent=2))
        return
    for r in plan:
        click.echo(f"{r.id}\t({r.tokens.start}, {r.tokens.end}]")


@cli.command(context_settings=CONTEXT)
@click.option("-k", "--keyspace", help="keyspace (or write ks.table)")
@click.option("-t", "--table", required=True, help="table name or ks.table")
@_connection_options
@click.option("--splits", "-s", type=int, default=16, show_default=True, help="number of equal ranges")
@_window_options
@click.option("--concurrency", "-c", type=int, default=8, show_default=True, help="queries in flight")
@click.option(
    "--mode",
    type=click.Choice(["global", "ranges", "hosts"]),
    default="global",
    show_default=True,
    help="print the total, the total per range, or the total per host",
)
@click.option("--json", "as_json", is_flag=True, help="print the full result as JSON")
def count(
    keyspace: str | None,
    table: str,
    splits: int,
    start_token: int | None,
    end_token: int | None,
    concurrency: int,
    mode: str,
    as_json: bool,
    **conn: Any,
) -> None:
    """Count the rows of a table, range by range, each query on a replica."""
    config = _config(**conn)
    ks, tbl = parse_qualified(table, keyspace)
    cluster, session = config.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        plan = plan_ranges(splits, _window(start_token, end_token))
        result = count_table(cluster, session, info, plan, concurrency=concurrency, local_dc=config.local_dc)
    finally:
        cluster.shutdown()
    if as_json:
        click.echo(json.dumps({"keyspace": ks, "table": tbl, **result.to_dict()}, indent=2))
    elif mode == "ranges":
        for rid, n in result.per_range.items():
            click.echo(f"{rid}\t{n}")
    elif mode == "hosts":
        for host, n in sorted(result.per_host.items()):
            click.echo(f"{host}\t{n}")
    else:
        click.echo(str(result.total))


def _timestamp_micros(value: str | None) -> int | None:
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


@cli.command(name="export", context_settings=CONTEXT)
@click.option("-k", "--keyspace", help="keyspace (or write ks.table)")
@click.option("-t", "--table", required=True, help="table name or ks.table")
@click.option("-url", "--url", "destination", help="destination directory: a path or s3://bucket/prefix")
@click.option(
    "--format",
    "-c",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl", "json"]),
    default="parquet",
    show_default=True,
    help="file format (json = JSON Lines)",
)
@click.option("--compression", help="parquet: zstd|snappy|gzip|lz4|none; csv/jsonl: gzip|zstd|bz2")
@click.option("--columns", help="comma-separated columns to export (default: all)")
@_connection_options
@click.option("--splits", "-s", type=int, default=16, show_default=True, help="number of equal ranges")
@_window_options
@click.option("--ranges", "only_ranges", help="export only these range ids (comma separated, e.g. r03-of-16)")
@click.option("--range-workers", type=int, default=2, show_default=True, help="ranges exported at once")
@click.option("--streams", type=int, default=4, show_default=True, help="queries in flight per range")
@click.option("--page-size", type=int, default=5000, show_default=True)
@click.option("--max-rows-per-file", type=int, default=1_000_000, show_default=True)
@click.option("--writetime/--no-writetime", default=False, help="add writetime(col) and ttl(col) fields")
@click.option("--written-after", help="only rows with a cell written at/after this time (ISO-8601 or epoch µs)")
@click.option("--written-before", help="only rows whose newest cell was written before this time")
@click.option("--resume", is_flag=True, help="skip ranges an earlier run of the same export finished")
@click.option("--header/--no-header", default=True, help="CSV header line")
@click.option("--delimiter", "-delim", default=",", show_default=True, help="CSV delimiter")
@click.option("--null-string", default="", help="CSV text for null (default: empty)")
@click.option("--binary-format", type=click.Choice(["BASE64", "HEX"]), default="BASE64", show_default=True)
@click.option("--s3-endpoint-url", help="S3-compatible endpoint (credentials from the AWS chain)")
@click.option("--progress/--no-progress", default=None, help="progress bar (default: on a terminal)")
@click.option("--log-json", is_flag=True, help="JSON log lines with the operation id on stderr")
@click.option("--progress-file", help="keep a JSON progress file here for external monitoring")
@click.option("--metrics-port", type=int, help="serve Prometheus metrics on this port (extra: metrics)")
@click.option("--metrics-textfile", help="write Prometheus metrics to this file (node-exporter textfile)")
@click.option("--webhook-url", help="POST range and operation events as JSON to this URL")
@_iceberg_options
@click.option(
    "--to",
    "target",
    type=click.Choice(["files", "iceberg"]),
    default="files",
    show_default=True,
    help="write files to --url, or commit to an Iceberg table",
)
@click.option(
    "--mode",
    type=click.Choice(["mirror", "daily", "single", "incremental"]),
    default="mirror",
    show_default=True,
    help="Iceberg: replace each range (mirror), file rows under --export-date (daily), or one commit",
)
@click.option("--export-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="Iceberg daily mode [today, UTC]")
@click.option("--sort-by", help="Iceberg: comma-separated sort order columns for a new table")
@click.option(
    "--partition-by",
    help="Iceberg: extra partition transforms for a new table, ';'-separated, e.g. 'day(at);bucket(16, id)'",
)
def export_cmd(
    keyspace: str | None,
    table: str,
    destination: str,
    fmt: str,
    compression: str | None,
    columns: str | None,
    splits: int,
    start_token: int | None,
    end_token: int | None,
    only_ranges: str | None,
    range_workers: int,
    streams: int,
    page_size: int,
    max_rows_per_file: int,
    writetime: bool,
    written_after: str | None,
    written_before: str | None,
    resume: bool,
    header: bool,
    delimiter: str,
    null_string: str,
    binary_format: str,
    s3_endpoint_url: str | None,
    progress: bool | None,
    log_json: bool,
    progress_file: str | None,
    metrics_port: int | None,
    metrics_textfile: str | None,
    webhook_url: str | None,
    target: str,
    mode: str,
    export_date: Any,
    sort_by: str | None,
    partition_by: str | None,
    warehouse: str,
    catalog: str,
    catalog_props: tuple[str, ...],
    iceberg_table: str | None,
    **conn: Any,
) -> None:
    """Export a table to Parquet, CSV or JSON Lines files, one set of files per token range."""

    from .export import ExportOptions, export_table
    from .scan import ScanOptions
    from .sinks import SinkOptions
    from .storage import StorageOptions

    config = _config(**conn)
    csv_options = None
    if fmt != "parquet":
        from .text_codecs import CsvOptions

        csv_options = CsvOptions(
            delimiter=delimiter, header=header, null_string=null_string, binary_format=binary_format
        )
    ks, tbl = parse_qualified(table, keyspace)
    options = ExportOptions(
        destination=destination or "",
        splits=splits,
        window=_window(start_token, end_token),
        only_ranges=tuple(r.strip() for r in only_ranges.split(",")) if only_ranges else None,
        range_workers=range_workers,
        resume=resume,
        scan=ScanOptions(
            columns=tuple(c.strip() for c in columns.split(",")) if columns else None,
            page_size=page_size,
            streams=streams,
            consistency=config.consistency,
            request_timeout=config.request_timeout,
            local_dc=config.local_dc,
            writetime=writetime,
            written_after=_timestamp_micros(written_after),
            written_before=_timestamp_micros(written_before),
        ),
        sink=SinkOptions(
            format="jsonl" if fmt == "json" else fmt,
            compression=compression,
            max_rows_per_file=max_rows_per_file,
            csv=csv_options,
        ),
        storage=StorageOptions.from_env(s3_endpoint_url=s3_endpoint_url),
    )
    listener = _listeners(
        f"{ks}.{tbl}", progress, log_json, progress_file, metrics_port, metrics_textfile, webhook_url, f"{ks}.{tbl}"
    )
    if target == "files" and not destination:
        raise click.UsageError("--url is required (or --to iceberg)")
    cluster, session = config.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        if target == "iceberg":
            from .iceberg import IcebergOptions, export_to_iceberg

            ice = IcebergOptions(
                table=iceberg_table,
                catalog_name=catalog,
                catalog_properties=_props(catalog_props),
                warehouse=warehouse,
                mode=mode,
                export_date=export_date.date() if export_date else None,
                sort_by=tuple(c.strip() for c in sort_by.split(",")) if sort_by else (),
                partition_by=tuple(p.strip() for p in partition_by.split(";") if p.strip()) if partition_by else (),
            )
            result = export_to_iceberg(cluster, session, info, options, ice, listener)
        else:
            result = export_table(cluster, session, info, options, listener)
    finally:
        cluster.shutdown()
    click.echo(json.dumps(result.summary()))


def _listeners(
    name: str,
    progress: bool | None,
    log_json: bool,
    progress_file: str | None,
    metrics_port: int | None,
    metrics_textfile: str | None,
    webhook_url: str | None,
    description: str,
) -> Any:
    """The listeners every long-running command offers (progress, JSON logs, metrics, webhook)."""
    import logging

    from .events import CompositeListener, LoggingListener, ProgressFileListener, RichProgressListener

    listeners: list[Any] = []
    if log_json:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        listeners.append(LoggingListener(as_json=True))
    if progress_file:
        listeners.append(ProgressFileListener(progress_file))
    if metrics_port is not None or metrics_textfile:
        from .events import PrometheusListener

        listeners.append(PrometheusListener(name, port=metrics_port, textfile=metrics_textfile))
    if webhook_url:
        from .events import WebhookListener

        listeners.append(WebhookListener(webhook_url))
    if progress if progress is not None else sys.stderr.isatty():
        listeners.append(RichProgressListener(description))
    return CompositeListener(listeners)


def _mapping(text: str | None) -> dict[str, str] | None:
    """DSBulk's named mapping: ``field1=col1, field2=col2`` (``:`` also separates)."""
    if not text:
        return None
    out = {}
    for pair in text.split(","):
        pair = pair.strip()
        if not pair:
            continue
        sep = "=" if "=" in pair else ":"
        field, ok, column = pair.partition(sep)
        if not ok:
            raise click.BadParameter(f"mapping entry {pair!r} needs field=column")
        out[field.strip()] = column.strip()
    return out


@cli.command(name="load", context_settings=CONTEXT)
@click.option("-k", "--keyspace", help="keyspace (or write ks.table)")
@click.option("-t", "--table", required=True, help="table name or ks.table")
@click.option(
    "-url",
    "--url",
    "--from",
    "source",
    default="-",
    show_default=True,
    help="file, directory, s3://bucket/prefix, or - for stdin; an Iceberg table with --format iceberg",
)
@click.option(
    "--format",
    "-c",
    "fmt",
    type=click.Choice(["csv", "jsonl", "json", "parquet", "iceberg"]),
    help="source format [from the file names]",
)
@click.option("--file-pattern", help="glob on file names in a directory (default: by the format's suffix)")
@_connection_options
@click.option("-m", "--mapping", help="field=column pairs, comma separated (default: by name)")
@click.option("--allow-missing-fields", is_flag=True, help="a mapped field the source lacks becomes null")
@click.option("--allow-extra-fields/--no-allow-extra-fields", default=True, help="ignore fields that map to nothing")
@click.option("--null-to-unset/--explicit-nulls", default=True, help="nulls leave cells untouched (no tombstones)")
@click.option("--timestamp", "write_timestamp", help="write time for every cell (ISO-8601 or epoch µs)")
@click.option("--ttl", type=int, help="TTL in seconds for every row")
@click.option("--timestamp-field", help="source field with each row's write time")
@click.option("--ttl-field", help="source field with each row's TTL (seconds)")
@click.option(
    "--preserve-writetime/--no-preserve-writetime",
    default=True,
    help="use writetime(col)/ttl(col) fields when the source has them",
)
@click.option(
    "--batch-mode",
    type=click.Choice(["auto", "partition", "replica-set", "disabled"]),
    default="auto",
    show_default=True,
    help="unlogged batches by partition key, by replica set, or auto: partitions first, the rest by replica set",
)
@click.option("--max-batch-statements", type=int, default=32, show_default=True)
@click.option(
    "--max-batch-partitions",
    type=int,
    default=10,
    show_default=True,
    help="partitions per replica-set batch (Cassandra warns above unlogged_batch_across_partitions_warn_threshold)",
)
@click.option("--concurrency", type=int, help="requests in flight [from the row size]")
@click.option("--max-rows-per-second", type=float, help="rate limit")
@click.option("--max-errors", default="100", show_default=True, help="rejects allowed: a count, N%, or -1")
@click.option("--log-dir", default="logs", show_default=True, help="operation logs, rejects and checkpoints")
@click.option("--resume", is_flag=True, help="skip what the last run of the same load finished")
@click.option("--checkpoint", help="resume from this checkpoint.json")
@click.option("--range", "only_range", help="load only rows whose token is in this range id (r03-of-16)")
@_window_options
@click.option("--header/--no-header", default=True, help="CSV header line")
@click.option("--delimiter", "-delim", default=",", show_default=True, help="CSV delimiter")
@click.option("--quote", default='"', show_default=True, help="CSV quote character")
@click.option("--escape", default="\\", show_default=True, help="CSV escape character")
@click.option("--null-string", default="", help="CSV text for null (default: empty)")
@click.option("--binary-format", type=click.Choice(["BASE64", "HEX"]), default="BASE64", show_default=True)
@click.option("--snapshot-id", type=int, help="Iceberg: load this snapshot")
@click.option("--as-of", help="Iceberg: the snapshot current at this time (ISO-8601)")
@click.option("--row-filter", help="Iceberg: a pyiceberg row filter, e.g. \"region = 'eu'\"")
@click.option("--columns", help="Iceberg: only these source columns")
@click.option("--s3-endpoint-url", help="S3-compatible endpoint (credentials from the AWS chain)")
@click.option("--dry-run", is_flag=True, help="read, convert and bind, write nothing")
@click.option("--progress/--no-progress", default=None, help="progress bar (default: on a terminal)")
@click.option("--log-json", is_flag=True, help="JSON log lines with the operation id on stderr")
@click.option("--progress-file", help="keep a JSON progress file here for external monitoring")
@click.option("--metrics-port", type=int, help="serve Prometheus metrics on this port (extra: metrics)")
@click.option("--metrics-textfile", help="write Prometheus metrics to this file (node-exporter textfile)")
@click.option("--webhook-url", help="POST operation events as JSON to this URL")
@_iceberg_options
def load_cmd(
    keyspace: str | None,
    table: str,
    source: str,
    fmt: str | None,
    file_pattern: str | None,
    mapping: str | None,
    allow_missing_fields: bool,
    allow_extra_fields: bool,
    null_to_unset: bool,
    write_timestamp: str | None,
    ttl: int | None,
    timestamp_field: str | None,
    ttl_field: str | None,
    preserve_writetime: bool,
    batch_mode: str,
    max_batch_statements: int,
    max_batch_partitions: int,
    concurrency: int | None,
    max_rows_per_second: float | None,
    max_errors: str,
    log_dir: str,
    resume: bool,
    checkpoint: str | None,
    only_range: str | None,
    start_token: int | None,
    end_token: int | None,
    header: bool,
    delimiter: str,
    quote: str,
    escape: str,
    null_string: str,
    binary_format: str,
    snapshot_id: int | None,
    as_of: str | None,
    row_filter: str | None,
    columns: str | None,
    s3_endpoint_url: str | None,
    dry_run: bool,
    progress: bool | None,
    log_json: bool,
    progress_file: str | None,
    metrics_port: int | None,
    metrics_textfile: str | None,
    webhook_url: str | None,
    warehouse: str,
    catalog: str,
    catalog_props: tuple[str, ...],
    iceberg_table: str | None,
    **conn: Any,
) -> None:
    """Load CSV, JSON Lines, Parquet or an Iceberg table into a table.

    Exit codes: 0 every record written; 1 finished with rejected records (see the operation's
    log directory); 2 bad options; 3 connection refused; 4 the load stopped (resume continues);
    5 aborted: more rejects than --max-errors.
    """
    from .load import LoadOptions, load_table
    from .sources import IcebergSource
    from .storage import StorageOptions
    from .text_codecs import CsvOptions

    config = _config(**conn)
    ks, tbl = parse_qualified(table, keyspace)
    fmt = "jsonl" if fmt == "json" else fmt
    ice = None
    if fmt == "iceberg":
        as_of_us = _timestamp_micros(as_of)
        as_of_ms = as_of_us // 1000 if as_of_us is not None else None
        ice = IcebergSource(
            table=iceberg_table or (source if source != "-" else f"{ks}.{tbl}"),
            catalog_name=catalog,
            catalog_properties=_props(catalog_props),
            warehouse=warehouse,
            snapshot_id=snapshot_id,
            as_of=as_of_ms,
            row_filter=row_filter,
            columns=tuple(c.strip() for c in columns.split(",")) if columns else None,
        )
    window = None
    if start_token is not None or end_token is not None:
        window = _window(start_token, end_token)
    options = LoadOptions(
        source=source,
        format=fmt,
        file_pattern=file_pattern,
        csv=CsvOptions(
            delimiter=delimiter,
            quote=quote,
            escape=escape,
            header=header,
            null_string=null_string,
            binary_format=binary_format,
        ),
        mapping=_mapping(mapping),
        allow_missing_fields=allow_missing_fields,
        allow_extra_fields=allow_extra_fields,
        null_to_unset=null_to_unset,
        write_timestamp=_timestamp_micros(write_timestamp),
        ttl=ttl,
        timestamp_field=timestamp_field,
        ttl_field=ttl_field,
        preserve_writetime=preserve_writetime,
        batch_mode=batch_mode,
        max_batch_statements=max_batch_statements,
        max_batch_partitions=max_batch_partitions,
        concurrency=concurrency,
        max_rows_per_second=max_rows_per_second,
        consistency=config.consistency,
        request_timeout=config.request_timeout,
        max_errors=max_errors,
        log_dir=log_dir,
        resume=resume,
        checkpoint=checkpoint,
        only_range=only_range,
        range_window=window,
        iceberg=ice,
        storage=StorageOptions.from_env(s3_endpoint_url=s3_endpoint_url),
        dry_run=dry_run,
    )
    listener = _listeners(
        f"{ks}.{tbl}",
        progress,
        log_json,
        progress_file,
        metrics_port,
        metrics_textfile,
        webhook_url,
        f"load {ks}.{tbl}",
    )
    cluster, session = config.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        result = load_table(cluster, session, info, options, listener)
    finally:
        cluster.shutdown()
    click.echo(json.dumps(result.summary()))
    if result.errors:
        click.echo(f"cassandra-bulk: {result.errors} record(s) rejected; see {result.log_dir}/errors.log", err=True)
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@click.option("-k", "--keyspace", help="keyspace (or write ks.table)")
@click.option("-t", "--table", required=True, help="table name or ks.table")
@_connection_options
@_iceberg_options
@click.option("--splits", "-s", type=int, default=16, show_default=True, help="the export's number of ranges")
@click.option("--export-date", type=click.DateTime(formats=["%Y-%m-%d"]), help="daily tables: the date to check")
def verify(
    keyspace: str | None,
    table: str,
    warehouse: str,
    catalog: str,
    catalog_props: tuple[str, ...],
    iceberg_table: str | None,
    splits: int,
    export_date: Any,
    **conn: Any,
) -> None:
    """Compare per-range row counts in Cassandra with the Iceberg table's; exit 1 on a mismatch."""
    from .iceberg import IcebergOptions, load_catalog
    from .iceberg import verify as verify_ranges

    config = _config(**conn)
    ks, tbl = parse_qualified(table, keyspace)
    ice = IcebergOptions(
        table=iceberg_table, catalog_name=catalog, catalog_properties=_props(catalog_props), warehouse=warehouse
    )
    iceberg_table_obj = load_catalog(ice).load_table(iceberg_table or f"{ks}.{tbl}")
    cluster, session = config.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        result = verify_ranges(
            cluster, session, info, iceberg_table_obj, plan_ranges(splits), export_date.date() if export_date else None
        )
    finally:
        cluster.shutdown()
    click.echo(json.dumps(result.to_dict()))
    if not result.ok:
        sys.exit(1)


@cli.command(name="iceberg-maintenance", context_settings=CONTEXT)
@click.option("--iceberg-table", "ident", required=True, help="namespace.table")
@click.option("--warehouse", default="warehouse", show_default=True)
@click.option("--catalog", default="default", show_default=True)
@click.option("--catalog-prop", "catalog_props", multiple=True, metavar="KEY=VALUE")
@click.option("--expire-older-than-hours", type=float, help="expire snapshots older than this (current one stays)")
@click.option(
    "--remove-orphans-older-than-hours",
    type=float,
    help="delete unreferenced data files older than this (left by crashed range writes)",
)
@click.option("--dry-run", is_flag=True, help="list orphan files without deleting them")
def iceberg_maintenance(
    ident: str,
    warehouse: str,
    catalog: str,
    catalog_props: tuple[str, ...],
    expire_older_than_hours: float | None,
    remove_orphans_older_than_hours: float | None,
    dry_run: bool,
) -> None:
    """Housekeeping for an exported Iceberg table: expire snapshots, remove orphan files."""
    import datetime as dt

    from .iceberg import (
        IcebergOptions,
        expire_snapshots,
        load_catalog,
        remove_orphan_files,
        storage_options_from_catalog,
    )

    props = _props(catalog_props)
    cat = load_catalog(IcebergOptions(catalog_name=catalog, catalog_properties=props, warehouse=warehouse))
    tbl = cat.load_table(ident)
    out: dict[str, Any] = {"table": ident}
    if expire_older_than_hours is not None:
        out["expired_snapshots"] = expire_snapshots(tbl, dt.timedelta(hours=expire_older_than_hours))
        tbl = cat.load_table(ident)
    if remove_orphans_older_than_hours is not None:
        out["orphan_files"] = remove_orphan_files(
            tbl, storage_options_from_catalog(props), dt.timedelta(hours=remove_orphans_older_than_hours), dry_run
        )
    click.echo(json.dumps(out))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one-line errors for expected failures, exit codes per kind."""
    try:
        cli.main(args=argv, prog_name="cassandra-bulk", standalone_mode=False)
    except BulkError as exc:
        click.echo(f"cassandra-bulk: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("cassandra-bulk: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ValueError as exc:
        click.echo(f"cassandra-bulk: error: {exc}", err=True)
        sys.exit(2)
