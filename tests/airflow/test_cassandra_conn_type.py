"""Airflow's standard ``cassandra`` connection (the apache-cassandra provider's) works with our hook.

One cluster, one connection: host/port/login/password/schema as both providers read them, and that
provider's extras (``ssl_options``, ``load_balancing_policy_args``, ``protocol_version``) translated.
The last test connects to the test node through such a connection, defined as users define it
(``AIRFLOW_CONN_<ID>``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

SECRET = "An0ther-Secret-Pa55"


def _cassandra_connection(extra: dict[str, Any] | str | None) -> Any:
    from airflow.sdk import Connection

    return Connection(
        conn_id="cassandra_default",
        conn_type="cassandra",
        host="10.0.0.1,10.0.0.2",
        port=9142,
        login="reader",
        password=SECRET,
        schema="sales",
        extra=json.dumps(extra) if isinstance(extra, dict) else extra,
    )


def test_cassandra_connection_extras_are_translated() -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection

    conn = _cassandra_connection(
        {
            "ssl_options": {"ca_certs": "/etc/ca.pem", "certfile": "/etc/c.pem", "keyfile": "/etc/c.key"},
            "load_balancing_policy": "DCAwareRoundRobinPolicy",
            "load_balancing_policy_args": {"local_dc": "dc-west", "used_hosts_per_remote_dc": 0},
            "protocol_version": 4,
            "cql_version": "3.4.5",
            "consistency": "LOCAL_QUORUM",  # one of ours, added to the standard connection
        }
    )
    config = config_from_connection(conn)
    assert config.contact_points == ("10.0.0.1", "10.0.0.2") and config.port == 9142
    assert (config.username, config.password) == ("reader", SECRET)
    assert config.ssl_enabled is True and config.ssl_verify_hostname is True
    files = (config.ssl_ca_file, config.ssl_cert_file, config.ssl_key_file)
    assert files == ("/etc/ca.pem", "/etc/c.pem", "/etc/c.key")
    assert config.local_dc == "dc-west" and config.protocol_version == 4
    assert config.consistency == "LOCAL_QUORUM"
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("extra", "local_dc", "verify_hostname"),
    [
        (  # TokenAwarePolicy over DCAwareRoundRobinPolicy, extras stored as JSON strings
            {
                "load_balancing_policy": "TokenAwarePolicy",
                "load_balancing_policy_args": json.dumps(
                    {
                        "child_load_balancing_policy": "DCAwareRoundRobinPolicy",
                        "child_load_balancing_policy_args": {"local_dc": "dc9"},
                    }
                ),
                "ssl_options": json.dumps({"check_hostname": False}),
            },
            "dc9",
            False,
        ),
        ({"load_balancing_policy": "RoundRobinPolicy"}, None, True),
        (None, None, True),
    ],
)
def test_cassandra_connection_policies(extra: Any, local_dc: str | None, verify_hostname: bool) -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection

    config = config_from_connection(_cassandra_connection(extra))
    assert config.local_dc == local_dc
    assert config.ssl_verify_hostname is verify_hostname
    assert config.ssl_enabled is (extra is not None and "ssl_options" in extra)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ssl_options": {"cert_reqs": "CERT_NONE"}}, "cert_reqs CERT_NONE"),
        ({"ssl_options": {"cert_reqs": 0}}, "cert_reqs CERT_NONE"),
        ({"ssl_options": "not json"}, "'ssl_options': not a JSON object"),
        ({"load_balancing_policy_args": [1, 2]}, "'load_balancing_policy_args': expected a JSON object"),
    ],
)
def test_cassandra_connection_refuses_what_it_cannot_honour(extra: dict[str, Any], message: str) -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection

    with pytest.raises(ValueError, match=message) as err:
        config_from_connection(_cassandra_connection(extra))
    assert SECRET not in str(err.value) and "\n" not in str(err.value)


def test_hook_connects_through_a_cassandra_connection(cassandra: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test node through ``AIRFLOW_CONN_CASSANDRA_DEFAULT`` of type ``cassandra``."""
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    doc: dict[str, Any] = {"conn_type": "cassandra", "host": ",".join(cassandra.contact_points), "port": cassandra.port}
    if cassandra.username:
        doc.update(login=cassandra.username, password=cassandra.password)
    if cassandra.local_dc:
        doc["extra"] = {
            "load_balancing_policy": "DCAwareRoundRobinPolicy",
            "load_balancing_policy_args": {"local_dc": cassandra.local_dc},
        }
    monkeypatch.setenv("AIRFLOW_CONN_CASSANDRA_DEFAULT", json.dumps(doc))
    hook = CassandraBulkHook(cassandra_conn_id="cassandra_default")
    assert hook.get_connection_config().local_dc == cassandra.local_dc
    ok, message = hook.test_connection()
    assert ok, message
    assert message.startswith("Connected to Cassandra ")
