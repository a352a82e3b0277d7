"""DSBulk's option names for ``cassandra-bulk load``, so an existing ``dsbulk load`` command line
runs unchanged: ``-header false``, ``--connector.csv.delimiter '|'``, ``--schema.mapping``,
``--log.maxErrors``, ``--codec.nullStrings``, ``--datastax-java-driver.basic.contact-points`` ...

:func:`translate` rewrites them to this tool's options before click parses the command line. A
DSBulk option with no equivalent stops the command with an error naming it; a few that only tune
DSBulk's own output (``-verbosity``, ``--monitoring.reportRate``) or that this tool decides by
itself (``--connector.json.mode``: the JSON layout is detected) are accepted and ignored, with a
note on stderr. Values follow DSBulk's HOCON spelling: ``"quoted"``, lists ``["a", "b"]``, ``\\t``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click

_NAMESPACES = (
    "connector.",
    "schema.",
    "codec.",
    "log.",
    "executor.",
    "batch.",
    "driver.",
    "datastax-java-driver.",
    "engine.",
    "monitoring.",
    "stats.",
    "runner.",
    "dsbulk.",
)
"""Long DSBulk option names start with one of these (``--dsbulk.`` is DSBulk 1.9's full prefix)."""

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _hocon_list(value: str) -> str:
    """``["a", "b"]`` or ``a,b`` → ``a,b``."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return ",".join(_unquote(v) for v in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", value) if v.strip())


def _character(value: str) -> str:
    """A delimiter, quote, escape or comment: ``\\t`` is a tab, as in DSBulk's HOCON strings."""
    value = _unquote(value)
    return {"\\t": "\t", "\\\\": "\\", '\\"': '"'}.get(value, value)


def _hosts(value: str) -> str:
    return ",".join(h.split(":")[0] if h.count(":") == 1 else h for h in _hocon_list(value).split(",") if h)


def _file_pattern(value: str) -> str:
    value = _unquote(value)
    return value[3:] if value.startswith("**/") else value


def _null_value(value: str) -> list[str]:
    value = _unquote(value)
    return [] if value.upper() == "AUTO" else ["--null-string", value]


def _overflow(value: str) -> list[str]:
    strategy = _unquote(value).upper()
    if strategy not in ("REJECT", "TRUNCATE"):
        raise click.UsageError(f"DSBulk codec.overflowStrategy {value!r}: one of REJECT, TRUNCATE")
    return ["--allow-precision-loss"] if strategy == "TRUNCATE" else []


_BATCH_MODES = {"DISABLED": "disabled", "PARTITION_KEY": "partition", "REPLICA_SET": "replica-set"}


def _batch_mode(value: str) -> list[str]:
    mode = _BATCH_MODES.get(_unquote(value).upper())
    if mode is None:
        raise click.UsageError(f"DSBulk batch.mode {value!r}: one of {', '.join(_BATCH_MODES)}")
    return ["--batch-mode", mode]


@dataclass(frozen=True)
class _Alias:
    """What a DSBulk option becomes: ``build(value)`` → our arguments; ``boolean``: the value is
    a HOCON boolean (and optional: alone it means true)."""

    build: Callable[[str], list[str]]
    boolean: bool = False
    ignored: bool = False


def _value(option: str, convert: Callable[[str], str] = _unquote) -> _Alias:
    return _Alias(lambda v: [option, convert(v)])


def _switch(on: str, off: str | None) -> _Alias:
    return _Alias(lambda v: [on] if v == "true" else ([off] if off else []), boolean=True)


def _ignored(boolean: bool = False) -> _Alias:
    return _Alias(lambda v: [], boolean=boolean, ignored=True)


def _names(*names: str) -> list[str]:
    """``connector.*.x`` stands for the csv and json connectors."""
    out = []
    for name in names:
        if "*" in name:
            out += [name.replace("*", "csv"), name.replace("*", "json")]
        else:
            out.append(name)
    return out


_DRIVER = "datastax-java-driver."
_TABLE: list[tuple[list[str], _Alias]] = [
    (_names("k", "schema.keyspace"), _value("--keyspace")),
    (_names("t", "schema.table"), _value("--table")),
    (_names("m", "schema.mapping"), _value("--mapping")),
    (_names("url", "connector.*.url"), _value("--url")),
    (_names("c", "connector.name"), _value("--format", lambda v: _unquote(v).lower())),
    (_names("connector.*.fileNamePattern"), _value("--file-pattern", _file_pattern)),
    (_names("delim", "connector.csv.delimiter"), _value("--delimiter", _character)),
    (_names("quote", "connector.csv.quote"), _value("--quote", _character)),
    (_names("escape", "connector.csv.escape"), _value("--escape", _character)),
    (_names("comment", "connector.csv.comment"), _value("--comment", _character)),
    (_names("encoding", "connector.*.encoding"), _value("--encoding")),
    (_names("skipRecords", "connector.*.skipRecords"), _value("--skip-records")),
    (_names("maxRecords", "connector.*.maxRecords"), _value("--max-records")),
    (_names("header", "connector.csv.header"), _switch("--header", "--no-header")),
    (_names("nullValue", "connector.csv.nullValue"), _Alias(_null_value)),
    (
        _names("connector.csv.ignoreLeadingWhitespaces"),
        _switch("--ignore-leading-whitespaces", "--no-ignore-leading-whitespaces"),
    ),
    (
        _names("connector.csv.ignoreTrailingWhitespaces"),
        _switch("--ignore-trailing-whitespaces", "--no-ignore-trailing-whitespaces"),
    ),
    (_names("nullStrings", "codec.nullStrings"), _value("--null-strings", _hocon_list)),
    (_names("codec.binary"), _value("--binary-format", lambda v: _unquote(v).upper())),
    (_names("codec.overflowStrategy"), _Alias(_overflow)),
    (_names("schema.allowMissingFields"), _switch("--allow-missing-fields", None)),
    (_names("schema.allowExtraFields"), _switch("--allow-extra-fields", "--no-allow-extra-fields")),
    (_names("schema.nullToUnset"), _switch("--null-to-unset", "--explicit-nulls")),
    (
        _names("schema.preserveTimestamp", "schema.preserveTtl"),
        _switch("--preserve-writetime", "--no-preserve-writetime"),
    ),
    (_names("schema.queryTimestamp"), _value("--timestamp")),
    (_names("schema.queryTtl"), _value("--ttl")),
    (_names("maxErrors", "log.maxErrors"), _value("--max-errors")),
    (_names("logDir", "log.directory"), _value("--log-dir")),
    (_names("dryRun", "engine.dryRun"), _switch("--dry-run", None)),
    (_names("maxConcurrentQueries", "engine.maxConcurrentQueries", "executor.maxInFlight"), _value("--concurrency")),
    (_names("executor.maxPerSecond"), _value("--max-rows-per-second")),
    (_names("batch.mode"), _Alias(_batch_mode)),
    (_names("batch.maxBatchStatements"), _value("--max-batch-statements")),
    (_names("h", _DRIVER + "basic.contact-points", "driver.hosts"), _value("--host", _hosts)),
    (_names("port", _DRIVER + "basic.default-port", "driver.port"), _value("--port")),
    (_names("u", _DRIVER + "advanced.auth-provider.username", "driver.auth.username"), _value("--username")),
    (_names("p", _DRIVER + "advanced.auth-provider.password", "driver.auth.password"), _value("--password")),
    (
        _names("cl", _DRIVER + "basic.request.consistency", "driver.query.consistency"),
        _value("--consistency", lambda v: _unquote(v).lower()),
    ),
    (
        _names("dc", _DRIVER + "basic.load-balancing-policy.local-datacenter", "driver.policy.lbp.localDc"),
        _value("--local-dc"),
    ),
    (_names("b", _DRIVER + "basic.cloud.secure-connect-bundle", "driver.cloud.secureConnectBundle"), _value("-b")),
    # Accepted, no effect here.
    (_names("connector.json.mode"), _ignored()),
    (_names("verbosity", "log.verbosity", "reportRate", "monitoring.reportRate"), _ignored()),
    (_names("maxCharsPerColumn", "connector.csv.maxCharsPerColumn", "newline", "connector.csv.newline"), _ignored()),
    (_names("connector.*.compression"), _ignored()),
]
_ALIASES = {name: alias for names, alias in _TABLE for name in names}

_UNSUPPORTED_SHORTCUTS = frozenset(
    {"query", "timeZone", "locale", "urlfile", "maxConcurrentFiles", "lgr", "sep", "ttl", "timestamp", "generate"}
)
"""DSBulk shortcuts with no equivalent here (named in the error rather than misparsed)."""


def _dsbulk_name(arg: str) -> tuple[str, str | None] | None:
    """(DSBulk name, inline value) when ``arg`` is a DSBulk-style option, else None."""
    if arg.startswith("--"):
        name, eq, inline = arg[2:].partition("=")
        name = name.removeprefix("dsbulk.") if name.startswith("dsbulk.") and "." in name[7:] else name
        if name in _ALIASES or name.startswith(_NAMESPACES):
            return name, inline if eq else None
        return None
    if arg == "-h":
        return "h", None  # DSBulk 1.9's -h is a HOCON list of host:port
    if arg.startswith("-") and len(arg) > 2 and arg[1:].isalpha():
        name = arg[1:]
        if name in _ALIASES or name in _UNSUPPORTED_SHORTCUTS:
            return name, None
    return None


def _boolean(value: str | None) -> str | None:
    if value is None:
        return None
    text = _unquote(value).lower()
    return "true" if text in _TRUE else "false" if text in _FALSE else None


def translate(args: Sequence[str], note: Callable[[str], None] | None = None) -> list[str]:
    """``args`` with every DSBulk option rewritten to ours (see the module docstring)."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            out += args[i - 1 :]
            break
        found = _dsbulk_name(arg)
        if found is None:
            out.append(arg)
            continue
        name, value = found
        alias = _ALIASES.get(name)
        dashes = "-" if not arg.startswith("--") else "--"
        if alias is None:
            raise click.UsageError(f"the DSBulk option {dashes}{name} is not supported by cassandra-bulk load")
        if alias.boolean:
            following = args[i] if value is None and i < len(args) else None
            given = _boolean(value if value is not None else following)
            if value is None and given is not None:
                i += 1
            wrong = value if value is not None else following if following and not following.startswith("-") else None
            if given is None and wrong is not None:
                raise click.UsageError(f"{dashes}{name} takes true or false, not {wrong!r}")
            value = given or "true"
        elif value is None:
            if i >= len(args):
                raise click.UsageError(f"{dashes}{name} needs a value")
            value, i = args[i], i + 1
        if alias.ignored and note is not None:
            note(f"cassandra-bulk: DSBulk option {dashes}{name} has no effect here; ignored")
        out += alias.build(value)
    return out
