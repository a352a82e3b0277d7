"""The ``cassandra-bulk`` click group and its ``-f/--config`` TOML defaults."""

from __future__ import annotations

import click

from .. import __version__

CONTEXT = {"help_option_names": ["--help"], "auto_envvar_prefix": "CASSANDRA_BULK"}


def _load_config_file(ctx: click.Context, _param: click.Parameter, path: str | None) -> None:
    """A TOML file of defaults: shared keys at the top (``host``, ``username``, ``ssl-ca``...) and a
    table per command (``[export]``, ``[load]``...), each key an option's long name without dashes
    (``ssl-ca``, ``ssl_ca`` or the parameter name ``ssl_ca_file``). Command-line flags win over the
    file. A key no command has, or a table that is not a command, is a one-line error: a misspelt
    key would otherwise be ignored without a word (``ssl-ca`` was, before option names were read)."""
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
    group = ctx.command
    assert isinstance(group, click.Group)
    commands = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    names = {name: _option_names(command) for name, command in commands.items() if command is not None}
    shared = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    problems = [f"[{t}] is not a command" for t, v in doc.items() if isinstance(v, dict) and t not in names]
    problems += [f"{k!r} is no command's option" for k in shared if not any(_key(k) in n for n in names.values())]
    for command, own in names.items():
        table = doc.get(command, {})
        problems += [f"[{command}] {k!r} is not an option of {command}" for k in table if _key(k) not in own]
    if problems:
        raise click.BadParameter(f"config file {path}: {'; '.join(problems)}")
    ctx.default_map = {
        command: {
            **{own[_key(k)]: v for k, v in shared.items() if _key(k) in own},
            **{own[_key(k)]: v for k, v in doc.get(command, {}).items()},
        }
        for command, own in names.items()
    }


def _key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_")


def _option_names(command: click.Command) -> dict[str, str]:
    """How a config file may name each option of ``command`` → its parameter name: the long flags
    (``--ssl-ca``, DSBulk's ``-delim``) without dashes, and the parameter name itself."""
    out: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.name:
            out.update({_key(opt): param.name for opt in param.opts if len(_key(opt)) > 1})
    for param in command.params:
        if isinstance(param, click.Option) and param.name:
            out[param.name] = param.name
    return out


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
