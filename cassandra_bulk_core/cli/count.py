"""``cassandra-bulk ranges`` and ``cassandra-bulk count``."""

from __future__ import annotations

import json
from typing import Any

import click

from ..count import count_table
from ..ring import plan_ranges
from ..table import resolve_table
from .app import CONTEXT, cli
from .options import connection_options, processes_option, splits_option, table_options, window_options
from .values import config, qualified, window


@cli.command(context_settings=CONTEXT)
@splits_option()
@window_options
@click.option("--json", "as_json", is_flag=True, help="print JSON (tokens as strings)")
def ranges(splits: int, start_token: int | None, end_token: int | None, as_json: bool) -> None:
    """Print the stable range plan: range i of N depends only on N and i."""
    plan = plan_ranges(splits, window(start_token, end_token))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in plan], indent=2))
        return
    for r in plan:
        click.echo(f"{r.id}\t({r.tokens.start}, {r.tokens.end}]")


@cli.command(context_settings=CONTEXT)
@table_options
@connection_options
@splits_option()
@window_options
@click.option("--concurrency", "-c", type=int, default=8, show_default=True, help="queries in flight")
@processes_option
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
    processes: int,
    mode: str,
    as_json: bool,
    **conn: Any,
) -> None:
    """Count the rows of a table, range by range, each query on a replica."""
    settings = config(**conn)
    ks, tbl = qualified(table, keyspace)
    plan = plan_ranges(splits, window(start_token, end_token))
    cluster, session = settings.connect()
    try:
        info = resolve_table(cluster, ks, tbl)
        result = count_table(
            cluster,
            session,
            info,
            plan,
            concurrency=concurrency,
            local_dc=settings.local_dc,
            processes=processes,
            connection=settings,
        )
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
