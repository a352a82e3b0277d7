"""The console script's error handling: an error the engine raises on purpose (``BulkError``), a
bad option (click) or a bad value (``ValueError``) prints as one line with its exit code; anything
else is a bug and keeps its traceback."""

from __future__ import annotations

import sys

import click

from ..errors import BulkError
from .app import cli


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
