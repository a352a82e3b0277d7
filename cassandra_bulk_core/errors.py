"""Exceptions with messages meant for the person at the terminal: one line, naming the problem."""

from __future__ import annotations


class BulkError(Exception):
    """Base of every error the engine raises on purpose; the CLI prints these without a traceback."""

    exit_code = 1


class ConfigError(BulkError):
    """Bad options or configuration (unknown keyspace/table/column, conflicting flags)."""

    exit_code = 2


class ConnectionFailed(BulkError):
    """Hosts unreachable or credentials refused."""

    exit_code = 3
