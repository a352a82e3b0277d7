"""The ``cassandra_bulk`` connection form, declared as data (no Airflow, engine or UI import).

Airflow >= 3.2 builds connection forms from provider info (``conn-fields``, ``ui-field-behaviour``)
without importing hooks; the hook's own ``get_ui_field_behaviour`` returns the same data, for older
UIs. One declaration, two readers.
"""

from __future__ import annotations

from typing import Any

EXTRA_FIELDS: dict[str, str] = {
    "local_dc": "Local datacenter",
    "consistency": "Consistency level",
    "ssl": "Enable TLS",
    "ssl_ca": "TLS CA file",
    "ssl_cert": "TLS client certificate file",
    "ssl_key": "TLS client key file",
    "ssl_key_password": "TLS client key password",
    "ssl_verify_hostname": "Verify the server hostname",
    "secure_connect_bundle": "Astra secure connect bundle (path)",
    "protocol_version": "Protocol version",
    "request_timeout": "Request timeout (s)",
    "connect_timeout": "Connect timeout (s)",
    "page_size": "Page size (rows)",
}
BOOLEAN_FIELDS = {"ssl": False, "ssl_verify_hostname": True}
INTEGER_FIELDS = {"protocol_version", "page_size"}
NUMBER_FIELDS = {"request_timeout", "connect_timeout"}
DESCRIPTIONS = {
    "local_dc": "Queries go to replicas in this datacenter first.",
    "consistency": "e.g. LOCAL_ONE (default), LOCAL_QUORUM.",
    "ssl_ca": "A path on the worker; with it, the server certificate chain is verified.",
    "secure_connect_bundle": "A path on the worker; replaces host, port and TLS fields.",
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": [],
    "relabeling": {"host": "Contact points", "schema": "Default keyspace", "login": "Username"},
    "placeholders": {
        "host": "10.0.0.1,10.0.0.2",
        "port": "9042",
        "schema": "my_keyspace",
        "extra": '{"local_dc": "dc1", "consistency": "LOCAL_QUORUM"}',
        "local_dc": "dc1",
        "consistency": "LOCAL_ONE",
        "protocol_version": "5",
        "request_timeout": "60",
        "page_size": "5000",
    },
}


SECRET_FIELDS = {"ssl_key_password"}


def _schema(key: str) -> dict[str, Any]:
    if key in SECRET_FIELDS:
        return {"type": ["string", "null"], "format": "password"}
    if key in BOOLEAN_FIELDS:
        return {"type": ["boolean", "null"], "default": BOOLEAN_FIELDS[key]}
    if key in INTEGER_FIELDS:
        return {"type": ["integer", "null"]}
    if key in NUMBER_FIELDS:
        return {"type": ["number", "null"]}
    return {"type": ["string", "null"]}


def conn_fields() -> dict[str, Any]:
    """Provider info's ``conn-fields``: one entry per connection extra."""
    out: dict[str, Any] = {}
    for key, label in EXTRA_FIELDS.items():
        field: dict[str, Any] = {"label": label, "schema": _schema(key)}
        if key in DESCRIPTIONS:
            field["description"] = DESCRIPTIONS[key]
        out[key] = field
    return out


def ui_field_behaviour() -> dict[str, Any]:
    """Provider info's ``ui-field-behaviour`` (kebab-case keys, as provider.yaml spells them)."""
    return {
        "hidden-fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }
