"""Exceptions with messages meant for the person at the terminal, and the one transient/terminal
split every retry in the engine uses.

Two questions decide every retry: *may the same request pass if sent again?* (:func:`is_transient`)
and, for non-idempotent writes, *was it certainly not applied?* (:func:`not_applied`) or *is its
outcome unknown?* (:func:`unknown_outcome`). Reads add the replica errors of another node
(:func:`is_transient_read`). Engine errors carry the answer themselves (``BulkError.transient``),
so the adapters can tell Airflow and Dagster not to retry what can never succeed.
"""

from __future__ import annotations


class BulkError(Exception):
    """Base of every error the engine raises on purpose; the CLI prints these without a traceback."""

    exit_code = 1
    transient = True
    """Whether running the same task again may succeed: true for what a node, the network or a
    catalog can cause; false for bad options, bad data and cancellations, which orchestrators must
    not retry (Airflow: ``AirflowFailException``; Dagster: ``Failure(allow_retries=False)``)."""


class ConfigError(BulkError):
    """Bad options or configuration (unknown keyspace/table/column, conflicting flags): terminal."""

    exit_code = 2
    transient = False


class ConnectionFailed(BulkError):
    """Hosts unreachable or credentials refused (a node may come back: transient)."""

    exit_code = 3


class LoadFailed(BulkError):
    """The load could not run to its end (a fatal write error, an unreadable source)."""

    exit_code = 4


class LoadCancelled(LoadFailed):
    """``LoadOptions.cancel`` was set."""

    transient = False


def _driver_transient() -> tuple[type[BaseException], ...]:
    from cassandra import OperationTimedOut, ReadTimeout, Unavailable, WriteFailure, WriteTimeout
    from cassandra.cluster import NoHostAvailable
    from cassandra.connection import ConnectionException
    from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage

    return (
        ReadTimeout,
        WriteTimeout,
        Unavailable,
        OperationTimedOut,
        NoHostAvailable,
        ConnectionException,
        OverloadedErrorMessage,
        IsBootstrappingErrorMessage,
        WriteFailure,
        ConnectionError,
    )


def is_transient(exc: BaseException) -> bool:
    """The same request may pass if sent again: timeouts, unavailable/overloaded/bootstrapping
    coordinators, no host reached, lost connections, replica write failures. A server's internal
    error is not here: it fails again (a load splits its batch). Engine errors are never retried
    request by request (they already ran out of retries); see ``BulkError.transient`` for tasks."""
    return not isinstance(exc, BulkError) and isinstance(exc, _driver_transient())


def is_transient_read(exc: BaseException) -> bool:
    """For reads, also a replica's read failure or internal error: the page is asked again from
    its paging state on the next replica, which may well answer."""
    from cassandra import ReadFailure
    from cassandra.protocol import ServerError

    return is_transient(exc) or isinstance(exc, ReadFailure | ServerError)


def is_timeout(exc: BaseException) -> bool:
    """A read or client timeout: for a count, a reason to split the range rather than repeat it."""
    from cassandra import OperationTimedOut, ReadTimeout

    return isinstance(exc, ReadTimeout | OperationTimedOut)


def not_applied(exc: BaseException) -> bool:
    """The coordinator (or the client) refused before any replica applied the write, so even a
    counter increment may be sent again. ``NoHostAvailable`` is raised only when no host took the
    request (a request lost after sending surfaces as its own error instead)."""
    from cassandra import Unavailable
    from cassandra.cluster import NoHostAvailable
    from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage

    return isinstance(exc, Unavailable | NoHostAvailable | OverloadedErrorMessage | IsBootstrappingErrorMessage)


def unknown_outcome(exc: BaseException) -> bool:
    """The write may or may not have been applied (by some replicas): a timeout on the server or
    the client, a connection lost after the request went out, a partial failure, an internal error."""
    from cassandra import OperationTimedOut, WriteFailure, WriteTimeout
    from cassandra.connection import ConnectionException
    from cassandra.protocol import ServerError

    return isinstance(exc, WriteTimeout | OperationTimedOut | ConnectionException | WriteFailure | ServerError)
