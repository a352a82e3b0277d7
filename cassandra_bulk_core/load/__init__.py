"""Load: CSV, JSON Lines, Parquet files or an Iceberg table into a Cassandra table.

The pipeline is source chunks (``sources``: records typed to the columns' canonical Arrow types,
bad records already set aside) → bound statements (this module: mapping, write timestamps and
TTLs, nulls as unset, token-range filter, batching) → requests in flight (``executor``).

Three rules make re-runs safe:

* Every write carries an explicit timestamp: the source's ``writetime(col)`` fields, a per-row
  field, a fixed value, or else the **operation timestamp + the record's position** in the load
  (the timestamp fixed when the load starts, the positions' file offsets kept in its checkpoint):
  of two records with one primary key the later wins, and replaying a record after a crash or a
  retry writes the same cells with the same timestamp, so nothing is loaded twice, even for
  records whose acknowledgement was lost. (Counters take no timestamp: a counter write whose
  outcome is unknown is set apart, never replayed.)
* The checkpoint (``checkpoint.json`` in the operation's log directory) records, per resource,
  the ordinal intervals whose every record was acknowledged or rejected; a resumed run skips them.
* Each rejected record goes to ``rejects.<fmt>`` (as it was read, so the file reloads after a fix)
  with its reason in ``errors.log``; ``max_errors`` stops the run when there are too many.
"""

from __future__ import annotations

from ..errors import BulkError, ConfigError, LoadCancelled, LoadFailed
from .batching import _add_to_batch, _group, _group_singles, _replica_function, _token_function
from .checkpoint import Checkpoint, Intervals, _find_checkpoint, _fingerprint, _mark_complete_when_done, _Positions
from .checks import _key_problems, _null_element_problems, _null_element_rows
from .inputs import _chunks, _count, _export_splits, _jsonl_fields, _other_range_file
from .loader import Loader, load_table
from .mapping import WRITETIME_FIELD, _by_column, _canonical_fields, _mapping_pairs, _Plan, _resolve
from .options import (
    BATCH_MODES,
    MAX_BATCH_PARTITIONS,
    UNKNOWN_OUTCOME_EXIT,
    LoadAborted,
    LoadOptions,
    LoadResult,
    _limit_crossing,
    _parse_max_errors,
    _window,
)
from .rejects import RejectLog, _raw
from .statements import (
    _CLIENT_TIMESTAMP,
    _PACK_LONG,
    _bound,
    _ChunkState,
    _hashable,
    _micros,
    _routing_keys,
    _Statements,
    _superseded_lists,
    _Write,
)

__all__ = [
    "BATCH_MODES",
    "MAX_BATCH_PARTITIONS",
    "UNKNOWN_OUTCOME_EXIT",
    "WRITETIME_FIELD",
    "BulkError",
    "Checkpoint",
    "ConfigError",
    "Intervals",
    "LoadAborted",
    "LoadCancelled",
    "LoadFailed",
    "LoadOptions",
    "LoadResult",
    "Loader",
    "RejectLog",
    "load_table",
]
# Private names stay importable from here too (the unit tests use some): they are the package's
# internals, re-exported so code written against the one-module ``load`` keeps working.
_PRIVATE = (
    _CLIENT_TIMESTAMP,
    _PACK_LONG,
    _ChunkState,
    _Plan,
    _Positions,
    _Statements,
    _Write,
    _add_to_batch,
    _bound,
    _by_column,
    _canonical_fields,
    _chunks,
    _count,
    _export_splits,
    _find_checkpoint,
    _fingerprint,
    _group,
    _group_singles,
    _hashable,
    _jsonl_fields,
    _key_problems,
    _limit_crossing,
    _mapping_pairs,
    _mark_complete_when_done,
    _micros,
    _null_element_problems,
    _null_element_rows,
    _other_range_file,
    _parse_max_errors,
    _raw,
    _replica_function,
    _resolve,
    _routing_keys,
    _superseded_lists,
    _token_function,
    _window,
)
