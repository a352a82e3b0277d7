"""Airflow's standard ``cassandra`` connection (apache-airflow-providers-apache-cassandra), read as ours.

A cluster that already has a ``cassandra`` connection for the apache-cassandra provider's hook and
operators needs no second, ``cassandra_bulk`` one: host/port/login/password/schema mean the same in
both, and this module translates that provider's extras into ours. No import of that provider: its
extras are plain JSON.

What is translated (the apache-cassandra provider's names → ours):

- ``ssl_options`` (the driver's legacy dict): TLS on; ``ca_certs`` → ``ssl_ca``, ``certfile`` →
  ``ssl_cert``, ``keyfile`` → ``ssl_key``, ``check_hostname`` → ``ssl_verify_hostname``. A
  ``cert_reqs`` of ``CERT_NONE`` is refused: the engine does not connect without checking the
  certificate chain silently (use ``ssl_verify_hostname: false`` for a host-name mismatch).
- ``load_balancing_policy_args.local_dc`` (``DCAwareRoundRobinPolicy``, or the child policy of
  ``TokenAwarePolicy``) → ``local_dc``. The policy itself is not used: the engine always routes
  token-aware and DC-aware.
- ``protocol_version`` as is. ``cql_version`` is ignored (the driver negotiates it).

Our own extras (``consistency``, ``request_timeout``, ...) may be added to a ``cassandra``
connection and win over translated ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CONN_TYPE = "cassandra"
"""The apache-cassandra provider's connection type."""

_SSL_KEYS = {
    "ca_certs": "ssl_ca",
    "certfile": "ssl_cert",
    "keyfile": "ssl_key",
    "check_hostname": "ssl_verify_hostname",
}


def _as_dict(value: Any, name: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"connection extra {name!r}: not a JSON object") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"connection extra {name!r}: expected a JSON object, got {type(value).__name__}")
    return dict(value)


def _ssl_extras(ssl_options: dict[str, Any]) -> dict[str, Any]:
    cert_reqs = ssl_options.get("cert_reqs")
    if cert_reqs is not None and str(cert_reqs).upper().removeprefix("SSL.") in {"0", "CERT_NONE"}:
        raise ValueError(
            "connection extra 'ssl_options': cert_reqs CERT_NONE (no certificate check) is not supported; "
            "give 'ca_certs' (or rely on the system CA store)"
        )
    out: dict[str, Any] = {"ssl": True}
    out.update({ours: ssl_options[theirs] for theirs, ours in _SSL_KEYS.items() if ssl_options.get(theirs) is not None})
    return out


def _local_dc(extra: Mapping[str, Any]) -> str | None:
    args = _as_dict(extra.get("load_balancing_policy_args"), "load_balancing_policy_args")
    if args.get("local_dc"):
        return str(args["local_dc"])
    child = _as_dict(args.get("child_load_balancing_policy_args"), "child_load_balancing_policy_args")
    return str(child["local_dc"]) if child.get("local_dc") else None


def translate_cassandra_extras(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The apache-cassandra provider's extras → ``cassandra_bulk`` extras (ours kept, and winning).

    :param extra: the connection's ``extra_dejson``.
    :raises ValueError: on an extra that cannot be honoured (one line, no secret in it).
    """
    out: dict[str, Any] = {}
    ssl_options = _as_dict(extra.get("ssl_options"), "ssl_options")
    if ssl_options:
        out.update(_ssl_extras(ssl_options))
    local_dc = _local_dc(extra)
    if local_dc:
        out["local_dc"] = local_dc
    if extra.get("protocol_version") not in (None, ""):
        out["protocol_version"] = extra["protocol_version"]
    theirs = {"ssl_options", "load_balancing_policy", "load_balancing_policy_args", "cql_version", "protocol_version"}
    out.update({k: v for k, v in extra.items() if k not in theirs})
    return out
