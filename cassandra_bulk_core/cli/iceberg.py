"""``cassandra-bulk verify`` and ``cassandra-bulk iceberg-maintenance``: an exported Iceberg table."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ..ring import plan_ranges
from ..table import resolve_table
from .app import CONTEXT, cli
from .options import catalog_options, connection_options, iceberg_options, splits_option, table_options
from .values import config, embedded_warehouse, load_iceberg_table, props, qualified, split_list


@cli.command(context_settings=CONTEXT)
@table_options
@connection_options
@iceberg_options
@splits_option("the export's number of ranges")
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
    from ..iceberg import IcebergOptions, load_catalog
    from ..iceberg import verify as verify_ranges

    settings = config(**conn)
    ks, tbl = qualified(table, keyspace)
    ice = IcebergOptions(
        table=iceberg_table, catalog_name=catalog, catalog_properties=props(catalog_props), warehouse=warehouse
    )
    embedded_warehouse(warehouse, catalog_props)
    iceberg_table_obj = load_iceberg_table(load_catalog(ice), iceberg_table or f"{ks}.{tbl}")
    cluster, session = settings.connect()
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
@catalog_options
@click.option(
    "--rewrite-small-files",
    is_flag=True,
    help="compact each range's small data files into files of --target-file-size (one commit per range)",
)
@click.option("--target-file-size", default="128MB", show_default=True, help="compaction target, e.g. 128MB, 1GB")
@click.option("--ranges", "range_ids", help="compact only these range ids (comma-separated)")
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
    rewrite_small_files: bool,
    target_file_size: str,
    range_ids: str | None,
    expire_older_than_hours: float | None,
    remove_orphans_older_than_hours: float | None,
    dry_run: bool,
) -> None:
    """Housekeeping for an exported Iceberg table: compact small files per range, expire snapshots,
    remove orphan files (in that order)."""
    import datetime as dt

    from ..iceberg import IcebergOptions, load_catalog
    from ..iceberg.compaction import parse_size
    from ..iceberg.maintenance import MaintenanceOptions, run_maintenance

    def hours(value: float | None) -> dt.timedelta | None:
        return None if value is None else dt.timedelta(hours=value)

    options = MaintenanceOptions(
        rewrite_small_files=rewrite_small_files,
        target_file_size=parse_size(target_file_size),  # a bad size fails before the catalog opens
        ranges=split_list(range_ids),
        expire_older_than=hours(expire_older_than_hours),
        remove_orphans_older_than=hours(remove_orphans_older_than_hours),
        dry_run=dry_run,
    )
    properties = props(catalog_props)
    embedded_warehouse(warehouse, catalog_props)
    cat = load_catalog(IcebergOptions(catalog_name=catalog, catalog_properties=properties, warehouse=warehouse))
    load_iceberg_table(cat, ident)  # a missing table: one clear line
    result = run_maintenance(cat, ident, options, properties)
    click.echo(json.dumps(result.to_dict()))
