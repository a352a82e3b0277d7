"""``CassandraBulkHook``: an Airflow connection → the engine's :class:`ConnectionConfig`.

The hook holds no logic of its own: it reads the connection (lazily, on first use), maps its fields
onto ``ConnectionConfig`` (so routing is token-aware and DC-aware, as everywhere in the engine) and
caches one driver ``Cluster``/``Session`` pair until :meth:`close`.

Connection fields: host = contact points (comma-separated), port, login/password, schema = default
keyspace. Extras: ``local_dc``, ``consistency``, ``ssl`` (bool), ``ssl_ca``, ``ssl_cert``,
``ssl_key``, ``ssl_key_password``, ``ssl_verify_hostname``, ``secure_connect_bundle``, ``protocol_version``,
``request_timeout``, ``connect_timeout``, ``page_size``. A ``cassandra`` connection (the
apache-cassandra provider's) works too: see :mod:`.cassandra_conn`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_cassandra_bulk.connection_form import EXTRA_FIELDS, UI_FIELD_BEHAVIOUR  # noqa: F401 - re-exported
from airflow_provider_cassandra_bulk.hooks.cassandra_conn import CONN_TYPE as CASSANDRA_CONN_TYPE
from airflow_provider_cassandra_bulk.hooks.cassandra_conn import translate_cassandra_extras
from cassandra_bulk_core.connection import ConnectionConfig
from cassandra_bulk_core.connection_fields import extra_values


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def config_from_connection(conn: Any) -> ConnectionConfig:
    """Build a :class:`ConnectionConfig` from anything shaped like an Airflow ``Connection``.

    :param conn: a ``cassandra_bulk`` connection, or Airflow's standard ``cassandra`` one (the
        apache-cassandra provider's), whose extras are translated (:mod:`.cassandra_conn`).
    """
    # Forms built from provider info may store extras prefixed (extra__cassandra_bulk__local_dc).
    extra: dict[str, Any] = {
        str(k).removeprefix("extra__cassandra_bulk__"): v
        for k, v in dict(getattr(conn, "extra_dejson", None) or {}).items()
    }
    if getattr(conn, "conn_type", None) == CASSANDRA_CONN_TYPE:
        extra = translate_cassandra_extras(extra)
    values: dict[str, Any] = {}
    if not _blank(conn.host):
        values["contact_points"] = tuple(h.strip() for h in str(conn.host).split(",") if h.strip())
    if conn.port:
        values["port"] = int(conn.port)
    if not _blank(conn.login):
        values["username"] = conn.login
    if not _blank(conn.password):
        values["password"] = conn.password
    values.update(extra_values(extra))  # the extras named in connection_fields.CONNECTION_FIELDS
    return ConnectionConfig(**values)


class CassandraBulkHook(BaseHook):
    """Connection to a Cassandra cluster for cassandra-bulk's token-range operators.

    :param cassandra_conn_id: an Airflow connection of type ``cassandra_bulk``, or of Airflow's
        standard type ``cassandra`` (apache-airflow-providers-apache-cassandra: same fields, its
        ``ssl_options`` / ``load_balancing_policy_args`` extras translated), so one cluster needs
        one connection.
    """

    conn_name_attr = "cassandra_conn_id"
    default_conn_name = "cassandra_bulk_default"
    conn_type = "cassandra_bulk"
    hook_name = "Cassandra Bulk"

    def __init__(self, cassandra_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cassandra_conn_id = cassandra_conn_id
        self._config: ConnectionConfig | None = None
        self._extra: dict[str, Any] | None = None
        self._schema: str | None = None
        self._cluster: Any = None
        self._session: Any = None

    # -- connection --------------------------------------------------------------------------

    def _load(self) -> None:
        if self._config is None:
            conn = self.get_connection(self.cassandra_conn_id)
            self._extra = dict(conn.extra_dejson or {})
            self._schema = conn.schema or None
            self._config = config_from_connection(conn)

    def get_connection_config(self) -> ConnectionConfig:
        """The engine's connection settings (the Airflow connection is read on first call only)."""
        self._load()
        assert self._config is not None
        return self._config

    @property
    def default_keyspace(self) -> str | None:
        """The connection's ``schema`` field."""
        self._load()
        return self._schema

    @property
    def page_size(self) -> int | None:
        self._load()
        value = (self._extra or {}).get("page_size")
        return None if value is None or _blank(value) else int(value)

    @property
    def lineage_namespace(self) -> str:
        """``cassandra://host:port`` of the first contact point (OpenLineage's naming for Cassandra)."""
        config = self.get_connection_config()
        if config.secure_connect_bundle:
            bundle = config.secure_connect_bundle.replace("\\", "/").rsplit("/", 1)[-1]
            return f"cassandra://{bundle.removesuffix('.zip')}"
        return f"cassandra://{config.contact_points[0]}:{config.port}"

    def get_conn(self) -> tuple[Any, Any]:
        """A connected ``(cluster, session)`` pair, created on first call and cached until :meth:`close`."""
        if self._session is None:
            self._cluster, self._session = self.get_connection_config().connect()
        return self._cluster, self._session

    def close(self) -> None:
        """Shut the driver down, failing in-flight queries at once (operators' ``on_kill`` uses this).

        The session's connection pools are closed first, while the session still runs callbacks:
        each in-flight request then fails over to the next host, finds every pool closed and ends
        with ``NoHostAvailable``. Shutting the cluster down directly would drop those fail-overs
        (a shut-down session ignores them), leaving whoever waits on a page blocked for good.
        """
        cluster, session = self._cluster, self._session
        self._cluster = self._session = None
        if session is not None:
            for pool in list(getattr(session, "_pools", {}).values()):
                with contextlib.suppress(Exception):  # best effort: the cluster shutdown follows anyway
                    pool.shutdown()
        if cluster is not None:
            cluster.shutdown()

    def test_connection(self) -> tuple[bool, str]:
        """Connect and read the server version; the message never contains the password."""
        config: ConnectionConfig | None = None
        try:
            config = self.get_connection_config()
            cluster, session = config.connect()
            try:
                row = session.execute("SELECT release_version FROM system.local").one()
            finally:
                cluster.shutdown()
            where = config.secure_connect_bundle or f"{','.join(config.contact_points)}:{config.port}"
            return True, f"Connected to Cassandra {row[0]} at {where}"
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if config is not None and config.password:
                message = message.replace(config.password, "***")
            return False, message

    # -- connection form -----------------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The same data as provider info's ``ui-field-behaviour`` (Airflow < 3.2 reads this; the
        form's extra fields are declared only in provider info: no FAB widgets)."""
        import copy

        return copy.deepcopy(UI_FIELD_BEHAVIOUR)
