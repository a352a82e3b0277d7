"""``cassandra-bulk export``: files (Parquet, CSV, JSON Lines) or an Iceberg table."""

from __future__ import annotations

import json
from typing import Any

import click

from ..table import resolve_table
from .app import CONTEXT, cli
from .options import (
    connection_options,
    csv_output_options,
    iceberg_options,
    iceberg_target_options,
    output_options,
    processes_option,
    progress_options,
    s3_option,
    scan_options,
    splits_option,
    table_options,
    window_options,
)
from .values import (
    config,
    embedded_warehouse,
    listeners,
    props,
    qualified,
    split_list,
    timestamp_micros,
    window,
    writable_dir,
)


def _export_options(kw: dict[str, Any], settings: Any) -> Any:
    from ..export import ExportOptions
    from ..io import StorageOptions
    from ..scan import ScanOptions
    from ..sinks import SinkOptions

    csv_options = None
    if kw["fmt"] != "parquet":
        from ..text_codecs import CsvOptions

        csv_options = CsvOptions(
            delimiter=kw["delimiter"],
            header=kw["header"],
            null_string=kw["null_string"],
            binary_format=kw["binary_format"],
        )
    return ExportOptions(
        destination=kw["destination"] or "",
        splits=kw["splits"],
        window=window(kw["start_token"], kw["end_token"]),
        only_ranges=split_list(kw["only_ranges"]),
        range_workers=kw["range_workers"],
        resume=kw["resume"],
        scan=ScanOptions(
            columns=split_list(kw["columns"]),
            page_size=kw["page_size"],
            streams=kw["streams"],
            consistency=settings.consistency,
            request_timeout=settings.request_timeout,
            retry_seconds=kw["retry_seconds"],
            local_dc=settings.local_dc,
            writetime=kw["writetime"],
            written_after=timestamp_micros(kw["written_after"]),
            written_before=timestamp_micros(kw["written_before"]),
        ),
        sink=SinkOptions(
            format="jsonl" if kw["fmt"] == "json" else kw["fmt"],
            compression=kw["compression"],
            max_rows_per_file=kw["max_rows_per_file"],
            csv=csv_options,
        ),
        storage=StorageOptions.from_env(s3_endpoint_url=kw["s3_endpoint_url"]),
    )


def _iceberg(kw: dict[str, Any]) -> Any:
    from ..iceberg import IcebergOptions

    export_date = kw["export_date"]
    return IcebergOptions(
        table=kw["iceberg_table"],
        catalog_name=kw["catalog"],
        catalog_properties=props(kw["catalog_props"]),
        warehouse=kw["warehouse"],
        mode=kw["mode"],
        export_date=export_date.date() if export_date else None,
        sort_by=split_list(kw["sort_by"]) or (),
        partition_by=split_list(kw["partition_by"], ";") or (),
    )


def _check(kw: dict[str, Any]) -> None:
    """Options that do nothing for the chosen target are refused, not silently ignored."""
    if kw["target"] == "files":
        if kw["mode"] != "mirror":
            raise click.UsageError(f"--mode {kw['mode']} is for --to iceberg; a file export has no modes")
        for name in ("export_date", "sort_by", "partition_by"):
            if kw[name] is not None:
                raise click.UsageError(f"--{name.replace('_', '-')} is for --to iceberg, not a file export")
        if not kw["destination"]:
            raise click.UsageError("--url is required (or --to iceberg)")


@cli.command(name="export", context_settings=CONTEXT)
@table_options
@output_options
@connection_options
@splits_option()
@window_options
@click.option("--ranges", "only_ranges", help="export only these range ids (comma separated, e.g. r03-of-16)")
@click.option(
    "--range-workers", type=int, default=2, show_default=True, help="ranges exported at once (with --processes 1)"
)
@processes_option
@scan_options
@click.option("--resume", is_flag=True, help="skip ranges an earlier run of the same export finished")
@csv_output_options
@s3_option
@progress_options("POST range and operation events as JSON to this URL")
@iceberg_options
@iceberg_target_options
def export_cmd(keyspace: str | None, table: str, processes: int, **kw: Any) -> None:
    """Export a table to Parquet, CSV or JSON Lines files, one set of files per token range."""
    settings = config(**kw)
    ks, tbl = qualified(table, keyspace)
    _check(kw)
    options = _export_options(kw, settings)
    options.plan()  # an unknown --ranges id fails here, before anything is created
    ice = None
    if kw["target"] == "iceberg":
        ice = _iceberg(kw)
        embedded_warehouse(kw["warehouse"], kw["catalog_props"])
    else:
        writable_dir(kw["destination"], "--url")
    listener = listeners(f"{ks}.{tbl}", kw, f"{ks}.{tbl}")
    cluster, session = settings.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        if ice is not None:
            from ..iceberg import export_to_iceberg

            result = export_to_iceberg(
                cluster, session, info, options, ice, listener, processes=processes, connection=settings
            )
        else:
            from ..export import export_table

            result = export_table(cluster, session, info, options, listener, processes=processes, connection=settings)
    finally:
        cluster.shutdown()
    click.echo(json.dumps(result.summary()))
