"""The ``cassandra-bulk`` command line: ``ranges`` and ``count`` for now (``export``/``load`` follow).

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
    return ConnectionConfig.from_env(
        contact_points=kw.get("hosts"),
        port=kw.get("port"),
        username=kw.get("username"),
        password=kw.get("password"),
        local_dc=kw.get("local_dc"),
        consistency=kw.get("consistency"),
        request_timeout=kw.get("request_timeout"),
    )


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="cassandra-bulk")
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
