"""The cassandra-driver internals the engine relies on, each checked here so a driver upgrade that
moves one fails this test loudly (issue "engine shape": private attributes under an open-ended pin).

Where each is used:
- ``BatchStatement._statements_and_parameters`` — load/batching.py builds batches of pre-serialized
  writes without re-binding them.
- ``ResponseFuture._paging_state`` / ``has_more_pages`` / ``_event`` — scan/table_scan.py pages by
  hand (a new request per page, so each page has a timeout) and polls for cancellation.
- ``cqltypes._casstypes`` / ``_cqltypes`` and the class-name lookup of the Cython deserializers —
  types/decode.py makes EMPTY-aware twins of the driver's fast decoders without registering them.
- ``ProtocolHandler.message_types_by_opcode``, ``ResultMessage.recv_results_rows`` /
  ``recv_results_metadata``, ``Session.client_protocol_handler`` — types/decode.py's exact and
  native decoding hook (the documented way NumpyProtocolHandler plugs in).
- ``Session._pools`` — the Airflow hook shuts connection pools down on kill.
"""

from __future__ import annotations

import cassandra
from cassandra import cqltypes
from cassandra.cluster import ResponseFuture, Session
from cassandra.protocol import ProtocolHandler, ResultMessage
from cassandra.query import BatchStatement


def test_driver_version_is_the_tested_minor() -> None:
    major, minor = (int(x) for x in cassandra.__version__.split(".")[:2])
    assert (major, minor) in {(3, 29), (3, 30)}, f"cassandra-driver {cassandra.__version__}: re-check this file"


def test_batch_statement_keeps_its_statements_in_a_list() -> None:
    batch = BatchStatement()
    assert batch._statements_and_parameters == []


def test_response_future_paging_and_event_attributes() -> None:
    attrs = set(dir(ResponseFuture))
    assert "has_more_pages" in attrs and "start_fetching_next_page" in attrs
    # Instance attributes, set in the driver's code (compiled here): checked in its source.
    for name in ("_paging_state", "_event"):
        assert _in_module(name), name


def _in_module(name: str) -> bool:
    import os

    import cassandra.cluster as cluster_module

    source = os.path.join(os.path.dirname(cluster_module.__file__ or ""), "cluster.py")
    with open(source, encoding="utf-8") as f:
        return f"self.{name} =" in f.read()


def test_type_registries_and_empty_support() -> None:
    assert isinstance(cqltypes._casstypes, dict) and isinstance(cqltypes._cqltypes, dict)
    assert cqltypes._casstypes["Int32Type"] is cqltypes.Int32Type
    assert hasattr(cqltypes._CassandraType, "support_empty_values")
    from cassandra_bulk_core.types.decode import decode_class
    from cassandra_bulk_core.types.tree import parse

    twin = decode_class(parse("int"))
    assert twin.__name__ == "Int32Type" and twin.support_empty_values  # found by name, EMPTY-aware
    assert cqltypes._casstypes["Int32Type"] is cqltypes.Int32Type  # and not registered globally


def test_protocol_handler_hook_points() -> None:
    result_class = ProtocolHandler.message_types_by_opcode[ResultMessage.opcode]
    assert callable(result_class.recv_results_rows) and callable(result_class.recv_results_metadata)
    assert "client_protocol_handler" in dir(Session)


def test_session_pools_attribute_name() -> None:
    assert _in_module("_pools")
