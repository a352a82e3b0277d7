"""Connection settings declared once: each :class:`ConnectionConfig` field with its command-line
flags, help text, environment variable, Airflow connection extra and whether it is a secret.

The CLI's connection option group (``cli/options.py``), :meth:`ConnectionConfig.from_env` and the
Airflow hook's extras mapping are derived from :data:`CONNECTION_FIELDS`; a new setting is one row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONSISTENCY_LEVELS = (
    "ANY",
    "ONE",
    "TWO",
    "THREE",
    "QUORUM",
    "ALL",
    "LOCAL_QUORUM",
    "EACH_QUORUM",
    "SERIAL",
    "LOCAL_SERIAL",
    "LOCAL_ONE",
)


@dataclass(frozen=True)
class ConnectionField:
    """One connection setting.

    ``flags``: the CLI's option declarations (empty: no flag; ``--a/--no-a`` for a switch);
    ``dest``: the click parameter name when it is not the field name; ``env``: the suffix after
    ``CASSANDRA_`` read by :meth:`ConnectionConfig.from_env` (``None``: not read from the
    environment); ``extra``: the key in an Airflow connection's extras (``None``: a core
    connection field or not offered); ``kind``: ``str``, ``int``, ``float`` or ``bool``.
    """

    name: str
    flags: tuple[str, ...] = ()
    help: str = ""
    env: str | None = None
    extra: str | None = None
    kind: type = str
    secret: bool = False
    dest: str | None = None
    choices: tuple[str, ...] | None = None

    @property
    def param(self) -> str:
        return self.dest or self.name

    def convert(self, value: Any) -> Any:
        """A text value (environment, Airflow extra) as this field's type."""
        if self.kind is bool:
            return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
        if self.kind in (int, float):
            return self.kind(value)
        return str(value).strip()


_TRUE = {"1", "true", "yes", "on", "y", "t"}

CONNECTION_FIELDS: tuple[ConnectionField, ...] = (
    ConnectionField(
        "contact_points",
        ("-h", "--host"),
        "contact points, comma separated [env CASSANDRA_CONTACT_POINTS]",
        env="CONTACT_POINTS",
        dest="hosts",
    ),
    ConnectionField("port", ("--port",), "CQL port [9042]", env="PORT", kind=int),
    ConnectionField("username", ("-u", "--username"), "user name [env CASSANDRA_USERNAME]", env="USERNAME"),
    ConnectionField(
        "password",
        ("-p", "--password"),
        "password [env CASSANDRA_PASSWORD]; visible in `ps`: prefer the environment or --password-file",
        env="PASSWORD",
        secret=True,
    ),
    ConnectionField(
        "local_dc",
        ("--local-dc",),
        "local datacenter: queries go to its replicas first",
        env="LOCAL_DC",
        extra="local_dc",
    ),
    ConnectionField(
        "consistency",
        ("--consistency", "-cl"),
        "consistency level [LOCAL_ONE]",
        env="CONSISTENCY",
        extra="consistency",
        choices=CONSISTENCY_LEVELS,
    ),
    ConnectionField(
        "request_timeout", ("--request-timeout",), "seconds per request [60]", extra="request_timeout", kind=float
    ),
    ConnectionField(
        "connect_timeout",
        ("--connect-timeout",),
        "seconds to wait for a node to accept the connection [10]",
        extra="connect_timeout",
        kind=float,
    ),
    ConnectionField("ssl_enabled", ("--ssl/--no-ssl",), "TLS to the cluster", extra="ssl", kind=bool),
    ConnectionField(
        "ssl_ca_file",
        ("--ssl-ca",),
        "CA certificate file (PEM) that signed the nodes' certificates",
        env="SSL_CA_FILE",
        extra="ssl_ca",
    ),
    ConnectionField(
        "ssl_cert_file",
        ("--ssl-cert",),
        "client certificate (PEM) for mutual TLS",
        env="SSL_CERT_FILE",
        extra="ssl_cert",
    ),
    ConnectionField(
        "ssl_key_file", ("--ssl-key",), "client private key (PEM) for mutual TLS", env="SSL_KEY_FILE", extra="ssl_key"
    ),
    ConnectionField(
        "ssl_key_password",
        ("--ssl-key-password",),
        "pass phrase of an encrypted --ssl-key [env CASSANDRA_SSL_KEY_PASSWORD]; never asked for on a terminal",
        env="SSL_KEY_PASSWORD",
        extra="ssl_key_password",
        secret=True,
    ),
    ConnectionField(
        "ssl_verify_hostname",
        ("--ssl-verify-hostname/--no-ssl-verify-hostname",),
        "check the node certificate's host name [on]",
        extra="ssl_verify_hostname",
        kind=bool,
    ),
    ConnectionField(
        "secure_connect_bundle",
        ("-b", "--secure-connect-bundle"),
        "DataStax Astra secure connect bundle (zip)",
        env="SECURE_CONNECT_BUNDLE",
        extra="secure_connect_bundle",
    ),
    ConnectionField(
        "protocol_version",
        ("--protocol-version",),
        "native protocol version (default: negotiated)",
        extra="protocol_version",
        kind=int,
    ),
)
"""Order is the CLI's ``--help`` order."""

SECRET_FIELDS = frozenset(f.name for f in CONNECTION_FIELDS if f.secret)


def env_values(prefix: str, environ: Any) -> dict[str, Any]:
    """The settings given in the environment (``{prefix}_{env}``), converted."""
    out: dict[str, Any] = {}
    for f in CONNECTION_FIELDS:
        if f.env and environ.get(f"{prefix}_{f.env}"):
            raw = environ[f"{prefix}_{f.env}"]
            out[f.name] = raw if f.name == "contact_points" else f.convert(raw)
    return out


def extra_values(extra: dict[str, Any]) -> dict[str, Any]:
    """The settings in an Airflow connection's extras (blank values skipped), converted."""
    out: dict[str, Any] = {}
    for f in CONNECTION_FIELDS:
        value = extra.get(f.extra) if f.extra else None
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        out[f.name] = f.convert(value)
    return out
