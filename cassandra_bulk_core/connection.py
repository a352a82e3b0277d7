"""One place that turns connection settings into a driver ``Cluster``, for the CLI and both adapters.

Why a dataclass and not driver kwargs: the adapters fill it from a Dagster resource or an Airflow
connection, the CLI from flags and environment; all three then get the same policies (token-aware,
DC-aware) and the same redaction of secrets in ``repr``.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .connection_fields import CONNECTION_FIELDS, CONSISTENCY_LEVELS, SECRET_FIELDS, env_values
from .errors import ConfigError, ConnectionFailed

__all__ = ["CONNECTION_FIELDS", "CONSISTENCY_LEVELS", "ConnectionConfig"]

DEFAULT_PROTOCOL_VERSION = 4


@dataclass(frozen=True)
class ConnectionConfig:
    """How to reach a cluster. Secrets are excluded from ``repr`` and from :meth:`safe_dict`."""

    contact_points: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    local_dc: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_enabled: bool = False
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)
    """Pass phrase of an encrypted ``ssl_key_file``; without it such a key is a one-line error,
    never a terminal prompt."""
    ssl_verify_hostname: bool = True
    ssl_insecure_skip_verify: bool = False
    """Accept any server certificate (no chain check at all): only this loudly named option does it;
    ``ssl_verify_hostname=False`` still checks the chain against the CA (or the system store)."""
    secure_connect_bundle: str | None = None
    protocol_version: int | None = None
    compression: bool | str = True
    request_timeout: float = 60.0
    connect_timeout: float = 10.0
    consistency: str = "LOCAL_ONE"

    SECRET_FIELDS = SECRET_FIELDS

    def __post_init__(self) -> None:
        if isinstance(self.contact_points, str):
            points = tuple(p.strip() for p in self.contact_points.split(",") if p.strip())
            object.__setattr__(self, "contact_points", points)
        if self.consistency.upper() not in CONSISTENCY_LEVELS:
            raise ConfigError(f"unknown consistency level {self.consistency!r}; one of {', '.join(CONSISTENCY_LEVELS)}")
        object.__setattr__(self, "consistency", self.consistency.upper())

    def safe_dict(self) -> dict[str, Any]:
        """Settings fit for logs, XComs and metadata: secrets replaced by ``***`` when set."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("***" if value else None) if f.name in self.SECRET_FIELDS else value
        out["contact_points"] = list(self.contact_points)
        return out

    def with_overrides(self, **changes: Any) -> ConnectionConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, prefix: str = "CASSANDRA", **overrides: Any) -> ConnectionConfig:
        """``CASSANDRA_CONTACT_POINTS``, ``_PORT``, ``_LOCAL_DC``, ``_USERNAME``, ``_PASSWORD``, ..."""
        values: dict[str, Any] = env_values(prefix, os.environ)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    # -- driver objects ------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        if not (self.ssl_enabled or self.ssl_ca_file or self.ssl_cert_file):
            return None
        try:
            ctx = ssl.create_default_context(cafile=self.ssl_ca_file)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"--ssl-ca {self.ssl_ca_file}: cannot load it as PEM CA certificates ({_reason(exc)})"
            ) from None
        ctx.check_hostname = self.ssl_verify_hostname and not self.ssl_insecure_skip_verify
        if self.ssl_insecure_skip_verify:
            ctx.verify_mode = ssl.CERT_NONE
        if self.ssl_cert_file:
            self._load_client_certificate(ctx)
        return ctx

    def _load_client_certificate(self, ctx: ssl.SSLContext) -> None:
        """``load_cert_chain`` with the key's pass phrase, never a terminal prompt: an encrypted key
        without ``ssl_key_password`` is a one-line error (a worker would hang on ``Enter PEM pass phrase:``)."""
        names = f"--ssl-cert {self.ssl_cert_file}" + (f" / --ssl-key {self.ssl_key_file}" if self.ssl_key_file else "")

        def no_password() -> str:
            raise ConfigError(
                f"{names}: the client key is encrypted; give its pass phrase with --ssl-key-password "
                "(or CASSANDRA_SSL_KEY_PASSWORD)"
            )

        for option, path in (("--ssl-cert", self.ssl_cert_file), ("--ssl-key", self.ssl_key_file)):
            if path and not os.path.isfile(path):
                raise ConfigError(f"{option} {path}: no such file")
        password: Any = self.ssl_key_password if self.ssl_key_password is not None else no_password
        try:
            ctx.load_cert_chain(self.ssl_cert_file, self.ssl_key_file, password=password)  # type: ignore[arg-type]
        except ConfigError:
            raise
        except FileNotFoundError as exc:
            raise ConfigError(f"{names}: {exc.strerror or 'no such file'}") from None
        except (OSError, ssl.SSLError, ValueError) as exc:
            hint = {
                "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
                "BAD_DECRYPT": "wrong --ssl-key-password",
            }.get(getattr(exc, "reason", None) or "", "")
            if not hint and self.ssl_key_password is not None:
                hint = "wrong --ssl-key-password, or the files are not a PEM certificate and key"
            if not hint and not self.ssl_key_file:
                hint = "no private key: give --ssl-key (or put the key in the certificate file)"
            raise ConfigError(f"{names}: cannot load the client certificate and key: {hint or _reason(exc)}") from None

    def build_cluster(self, **extra: Any) -> Any:
        """A driver ``Cluster`` with token-aware, DC-aware routing; not yet connected."""
        from cassandra import ConsistencyLevel
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=self.local_dc)),
            consistency_level=getattr(ConsistencyLevel, self.consistency),
            request_timeout=self.request_timeout,
        )
        kwargs: dict[str, Any] = {
            "execution_profiles": {EXEC_PROFILE_DEFAULT: profile},
            "compression": self.compression,
            "connect_timeout": self.connect_timeout,
        }
        # v4 unless asked otherwise: v5's checksummed framing is pure Python in the driver and costs
        # a bulk client measurable CPU per request; v4 has every feature a bulk job needs (unset
        # values, paging state, warnings) and every Cassandra since 2.2 speaks it.
        kwargs["protocol_version"] = self.protocol_version or DEFAULT_PROTOCOL_VERSION
        if self.username:
            kwargs["auth_provider"] = PlainTextAuthProvider(self.username, self.password or "")
        if self.secure_connect_bundle:
            if not os.path.isfile(self.secure_connect_bundle):
                raise ConfigError(f"-b/--secure-connect-bundle {self.secure_connect_bundle}: no such file")
            kwargs["cloud"] = {"secure_connect_bundle": self.secure_connect_bundle}
        else:
            kwargs["contact_points"] = list(self.contact_points)
            kwargs["port"] = self.port
            ctx = self.ssl_context()
            if ctx is not None:
                kwargs["ssl_context"] = ctx
        kwargs.update(extra)
        return _new_cluster(Cluster, kwargs, self)

    def connect(self, keyspace: str | None = None) -> tuple[Any, Any]:
        """Connect and return ``(cluster, session)``; failures become one-line errors that name
        the cause and the option to change."""
        from cassandra import OperationTimedOut
        from cassandra.cluster import NoHostAvailable

        cluster = self.build_cluster()
        try:
            session = cluster.connect(keyspace)
        except NoHostAvailable as exc:
            cluster.shutdown()
            raise ConnectionFailed(self._no_host_message(exc.errors)) from None
        except OperationTimedOut:
            cluster.shutdown()
            raise ConnectionFailed(
                f"no Cassandra host answered at {self._where()} within {self.connect_timeout:g}s (connect timeout): "
                "check -h/--host and --port, and that the node is up and reachable"
            ) from None
        return cluster, session

    def _where(self) -> str:
        if self.secure_connect_bundle:
            return f"secure connect bundle {self.secure_connect_bundle}"
        return f"{', '.join(self.contact_points)} port {self.port}"

    def _no_host_message(self, errors: dict[Any, Any]) -> str:
        from cassandra import AuthenticationFailed

        reasons = "; ".join(f"{host}: {_first_line(err)}" for host, err in (errors or {}).items())
        if any(isinstance(e, AuthenticationFailed) for e in (errors or {}).values()):
            if not self.username:
                return (
                    "the cluster requires authentication: give -u/--username and -p/--password "
                    f"(or CASSANDRA_USERNAME / CASSANDRA_PASSWORD): {reasons}"
                )
            return f"authentication failed as {self.username!r} (check -u/--username and the password): {reasons}"
        text = reasons.lower()
        hint = ""
        tls = self.ssl_context_wanted()
        if not tls and any(s in text for s in ("reset by peer", "eof occurred", "connection closed", "unexpected eof")):
            hint = " (the node may require TLS: try --ssl, with --ssl-ca for its CA)"
        elif tls and ("wrong_version_number" in text or "wrong version number" in text):
            hint = " (the node does not speak TLS on this port: drop --ssl, or use its TLS port)"
        elif tls and "certificate verify failed" in text:
            hint = " (give the CA that signed the node's certificate with --ssl-ca)"
        elif "timed out" in text:
            hint = " (timed out: check -h/--host, --port and firewalls, or raise --connect-timeout)"
        return f"no Cassandra host answered at {self._where()}: {reasons or 'no host was tried'}{hint}"

    def ssl_context_wanted(self) -> bool:
        return bool(self.ssl_enabled or self.ssl_ca_file or self.ssl_cert_file)


def _new_cluster(cls: Any, kwargs: dict[str, Any], config: ConnectionConfig) -> Any:
    """``Cluster(**kwargs)`` with its set-up failures as one line: an unresolvable host name, an
    unreadable secure connect bundle."""
    import zipfile

    from cassandra import UnresolvableContactPoints

    try:
        return cls(**kwargs)
    except UnresolvableContactPoints:
        raise ConnectionFailed(
            f"cannot resolve the contact point(s) {', '.join(config.contact_points)}: check -h/--host "
            "(or CASSANDRA_CONTACT_POINTS)"
        ) from None
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        if not config.secure_connect_bundle:
            raise
        raise ConfigError(
            f"-b/--secure-connect-bundle {config.secure_connect_bundle}: not a usable secure connect bundle "
            f"({_reason(exc)})"
        ) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _first_line(exc)


def _first_line(err: object) -> str:
    text = str(err)
    return text.splitlines()[0] if text else type(err).__name__
