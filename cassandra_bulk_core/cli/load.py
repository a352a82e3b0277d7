"""``cassandra-bulk load``: CSV, JSON Lines, Parquet or an Iceberg table into a table; DSBulk's
option names are accepted too (:mod:`cassandra_bulk_core.cli_dsbulk`)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ..errors import ConfigError
from ..table import resolve_table
from .app import CONTEXT, cli
from .options import (
    connection_options,
    csv_input_options,
    iceberg_options,
    progress_options,
    s3_option,
    table_options,
    window_options,
)
from .values import (
    config,
    csv_character,
    listeners,
    mapping,
    props,
    qualified,
    split_list,
    timestamp_micros,
    window,
    writable_dir,
)


class DsbulkCommand(click.Command):
    """A command that also takes DSBulk's option names (see :mod:`cassandra_bulk_core.cli_dsbulk`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from ..cli_dsbulk import translate

        return super().parse_args(ctx, translate(args, note=lambda m: click.echo(m, err=True)))


mapping_options = [
    click.option("-m", "--mapping", help="field=column pairs, comma separated (default: by name)"),
    click.option(
        "--allow-missing-fields",
        is_flag=True,
        help="a mapped field the source lacks, or a column no field matches, stays unset (default: an error)",
    ),
    click.option(
        "--allow-extra-fields/--no-allow-extra-fields",
        default=True,
        help="ignore (and report) source fields that map to no column",
    ),
    click.option("--null-to-unset/--explicit-nulls", default=True, help="nulls leave cells untouched (no tombstones)"),
    click.option("--timestamp", "write_timestamp", help="write time for every cell (ISO-8601 or epoch µs)"),
    click.option("--ttl", type=int, help="TTL in seconds for every row"),
    click.option("--timestamp-field", help="source field with each row's write time"),
    click.option("--ttl-field", help="source field with each row's TTL (seconds)"),
    click.option(
        "--preserve-writetime/--no-preserve-writetime",
        default=True,
        help="use writetime(col)/ttl(col) fields when the source has them",
    ),
]

write_options = [
    click.option(
        "--batch-mode",
        type=click.Choice(["auto", "partition", "replica-set", "disabled"]),
        default="auto",
        show_default=True,
        help="unlogged batches by partition key, by replica set, or auto: partitions first, the rest by replica set",
    ),
    click.option("--max-batch-statements", type=int, default=32, show_default=True),
    click.option(
        "--max-batch-partitions",
        type=int,
        default=10,
        show_default=True,
        help="partitions per replica-set batch (Cassandra warns above unlogged_batch_across_partitions_warn_threshold)",
    ),
    click.option("--concurrency", type=int, help="requests in flight [from the row size]"),
    click.option("--max-rows-per-second", type=float, help="rate limit"),
    click.option("--max-errors", default="100", show_default=True, help="rejects allowed: a count, N%, or -1"),
    click.option("--log-dir", default="logs", show_default=True, help="operation logs, rejects and checkpoints"),
    click.option("--resume", is_flag=True, help="skip what the last run of the same load finished"),
    click.option("--checkpoint", help="resume from this checkpoint.json"),
    click.option(
        "--checkpoint-interval",
        default="5s,50000",
        show_default=True,
        help="write the checkpoint every N seconds (5s) and/or every N acknowledged records (50000)",
    ),
    click.option("--range", "only_range", help="load only rows whose token is in this range id (r03-of-16)"),
    click.option(
        "--processes",
        type=click.IntRange(min=0),
        default=1,
        show_default=True,
        help="worker processes, each with its own connection, reading the whole source and loading every "
        "N-th block of it (uses more than one core; write times as with 1); 0 = one per core, at most 8; "
        "--concurrency and --max-rows-per-second are shared among them; not for stdin",
    ),
]

iceberg_source_options = [
    click.option("--snapshot-id", type=int, help="Iceberg: load this snapshot"),
    click.option("--as-of", help="Iceberg: the snapshot current at this time (ISO-8601)"),
    click.option("--row-filter", help="Iceberg: a pyiceberg row filter, e.g. \"region = 'eu'\""),
    click.option("--columns", help="Iceberg: only these source columns"),
]


def _options(fn: Any) -> Any:
    for option in reversed(
        [
            table_options,
            click.option(
                "-url",
                "--url",
                "--from",
                "source",
                default="-",
                show_default=True,
                help="file, directory, s3://bucket/prefix, or - for stdin; an Iceberg table with --format iceberg",
            ),
            click.option(
                "--format",
                "-c",
                "fmt",
                type=click.Choice(["csv", "jsonl", "json", "parquet", "iceberg"]),
                help="source format [from the file names]",
            ),
            click.option("--file-pattern", help="glob on file names in a directory (default: by the format's suffix)"),
            connection_options,
            *mapping_options,
            *write_options,
            window_options,
            csv_input_options,
            *iceberg_source_options,
            s3_option,
            click.option("--dry-run", is_flag=True, help="read, convert and bind, write nothing"),
            progress_options("POST operation events as JSON to this URL"),
            iceberg_options,
        ]
    ):
        fn = option(fn)
    return fn


def _check(kw: dict[str, Any]) -> None:
    """Conflicting options are refused; files the load needs are checked before it connects."""
    if kw["write_timestamp"] is not None and kw["timestamp_field"]:
        raise click.UsageError("--timestamp and --timestamp-field both set the write time; give one")
    if kw["only_range"] and (kw["start_token"] is not None or kw["end_token"] is not None):
        raise click.UsageError("--range and --start-token/--end-token both choose the tokens to load; give one")
    if kw["checkpoint"] and not os.path.isfile(kw["checkpoint"]):
        raise ConfigError(f"--checkpoint {kw['checkpoint']}: no such file")
    writable_dir(kw["log_dir"], "--log-dir")


def _iceberg_source(kw: dict[str, Any], ks: str, tbl: str) -> Any:
    from ..sources import IcebergSource

    as_of_us = timestamp_micros(kw["as_of"])
    source = kw["source"]
    return IcebergSource(
        table=kw["iceberg_table"] or (source if source != "-" else f"{ks}.{tbl}"),
        catalog_name=kw["catalog"],
        catalog_properties=props(kw["catalog_props"]),
        warehouse=kw["warehouse"],
        snapshot_id=kw["snapshot_id"],
        as_of=as_of_us // 1000 if as_of_us is not None else None,
        row_filter=kw["row_filter"],
        columns=split_list(kw["columns"]),
    )


def _csv(kw: dict[str, Any]) -> Any:
    from ..text_codecs import CsvOptions

    return CsvOptions(
        delimiter=csv_character(kw["delimiter"]),
        quote=csv_character(kw["quote"]),
        escape=csv_character(kw["escape"]),
        header=kw["header"],
        null_string=kw["null_string"],
        binary_format=kw["binary_format"],
        encoding=kw["encoding"],
        allow_precision_loss=kw["allow_precision_loss"],
        comment=csv_character(kw["comment"]),
        skip_records=kw["skip_records"],
        max_records=kw["max_records"],
        ignore_leading_whitespaces=kw["ignore_leading_whitespaces"],
        ignore_trailing_whitespaces=kw["ignore_trailing_whitespaces"],
        null_strings=tuple(n for n in (kw["null_strings"] or "").split(",") if n),
    )


_SAME_NAME = [
    "file_pattern",
    "allow_missing_fields",
    "allow_extra_fields",
    "null_to_unset",
    "ttl",
    "timestamp_field",
    "ttl_field",
    "preserve_writetime",
    "batch_mode",
    "max_batch_statements",
    "max_batch_partitions",
    "concurrency",
    "max_rows_per_second",
    "max_errors",
    "log_dir",
    "resume",
    "checkpoint",
    "only_range",
    "dry_run",
]


def _load_options(kw: dict[str, Any], settings: Any, ks: str, tbl: str) -> Any:
    from ..io import StorageOptions
    from ..load import LoadOptions

    fmt = "jsonl" if kw["fmt"] == "json" else kw["fmt"]
    has_window = kw["start_token"] is not None or kw["end_token"] is not None
    seconds, records = checkpoint_interval(kw["checkpoint_interval"])
    return LoadOptions(
        checkpoint_seconds=seconds,
        checkpoint_records=records,
        source=kw["source"],
        format=fmt,
        csv=_csv(kw),
        mapping=mapping(kw["mapping"]),
        write_timestamp=timestamp_micros(kw["write_timestamp"]),
        consistency=settings.consistency,
        request_timeout=settings.request_timeout,
        range_window=window(kw["start_token"], kw["end_token"]) if has_window else None,
        iceberg=_iceberg_source(kw, ks, tbl) if fmt == "iceberg" else None,
        storage=StorageOptions.from_env(s3_endpoint_url=kw["s3_endpoint_url"]),
        **{name: kw[name] for name in _SAME_NAME},
    )


def checkpoint_interval(text: str) -> tuple[float, int]:
    """``5s``, ``50000`` or ``5s,50000``: seconds and/or acknowledged records between checkpoint
    writes (the one not given keeps its default)."""
    seconds, records = 5.0, 50_000
    for term in (t.strip() for t in text.split(",") if t.strip()):
        try:
            if term.endswith("s"):
                seconds = float(term[:-1])
                bad = seconds <= 0
            else:
                records = int(term)
                bad = records <= 0
        except ValueError:
            bad = True
        if bad:
            raise click.BadParameter(
                f"{term!r}: expected seconds like 5s or a record count like 50000, above 0",
                param_hint="--checkpoint-interval",
            )
    return seconds, records


def _report(result: Any) -> None:
    click.echo(json.dumps(result.summary()))
    if result.unmapped_fields:
        click.echo(f"cassandra-bulk: source field(s) {', '.join(result.unmapped_fields)} map to no column", err=True)
    if result.errors:
        click.echo(f"cassandra-bulk: {result.errors} record(s) rejected; see {result.log_dir}/errors.log", err=True)
    if result.unknown_outcome:
        from ..load import UNKNOWN_OUTCOME_EXIT

        click.echo(
            f"cassandra-bulk: {result.unknown_outcome} counter write(s) with an unknown outcome (some may have "
            f"been applied): check them before loading {result.log_dir}/unknown.* again; re-running them may "
            "count them twice",
            err=True,
        )
        sys.exit(UNKNOWN_OUTCOME_EXIT)
    if result.errors:
        sys.exit(1)


@cli.command(name="load", context_settings=CONTEXT, cls=DsbulkCommand)
@_options
def load_cmd(keyspace: str | None, table: str, processes: int, **kw: Any) -> None:
    """Load CSV, JSON Lines, Parquet or an Iceberg table into a table.

    Exit codes: 0 every record written; 1 finished with rejected records (see the operation's
    log directory); 2 bad options; 3 connection refused; 4 the load stopped (resume continues);
    5 aborted: more rejects than --max-errors; 6 finished, but counter writes have an unknown
    outcome (timed out: some may have been applied; re-running them may count them twice).
    """
    from ..load import load_table

    settings = config(**kw)
    ks, tbl = qualified(table, keyspace)
    _check(kw)
    options = _load_options(kw, settings, ks, tbl)
    listener = listeners(f"{ks}.{tbl}", kw, f"load {ks}.{tbl}")
    cluster, session = settings.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        result = load_table(cluster, session, info, options, listener, processes=processes, connection=settings)
    finally:
        cluster.shutdown()
    _report(result)
