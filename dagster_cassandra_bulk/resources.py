"""Dagster resources: where Cassandra is and where the Iceberg catalog is.

Both are plain configuration mapped onto the engine's own config objects
(:class:`~cassandra_bulk_core.ConnectionConfig`, :class:`~cassandra_bulk_core.iceberg.IcebergOptions`)
in one method each, so the CLI, Airflow and Dagster connect the same way. Secrets belong in
``EnvVar("CASSANDRA_PASSWORD")``; Dagster then stores the reference, never the value.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    import datetime as dt

    from dagster import AssetExecutionContext, MaterializeResult

    from cassandra_bulk_core import ConnectionConfig, ScanOptions
    from cassandra_bulk_core.iceberg import IcebergOptions
    from cassandra_bulk_core.load import LoadOptions
    from cassandra_bulk_core.sources import IcebergSource
    from dagster_cassandra_bulk.translator import CassandraTable, IcebergCassandraTable


class CassandraResource(ConfigurableResource):  # type: ignore[misc]
    """A Cassandra cluster to read from (exports) or write to (loads).

    Example:
        ``CassandraResource(contact_points=["10.0.0.1", "10.0.0.2"], local_dc="dc1",
        username="etl", password=EnvVar("CASSANDRA_PASSWORD"))``; mutual TLS with an encrypted key:
        ``ssl_enabled=True, ssl_ca_file=..., ssl_cert_file=..., ssl_key_file=...,
        ssl_key_password=EnvVar("CASSANDRA_SSL_KEY_PASSWORD")``.
    """

    contact_points: list[str] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Hosts; an entry may also be a comma-separated list (handy from one env var).",
    )
    port: int = 9042
    local_dc: str | None = Field(default=None, description="Data center whose replicas are read first.")
    username: str | None = None
    password: str | None = Field(default=None, repr=False, description="Use EnvVar; never logged or in metadata.")
    ssl_enabled: bool = False
    ssl_ca_file: str | None = None
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    ssl_key_password: str | None = Field(
        default=None,
        repr=False,
        description="Pass phrase of an encrypted ssl_key_file (never prompted for). Use EnvVar; never logged "
        "or in metadata.",
    )
    ssl_verify_hostname: bool = True
    secure_connect_bundle: str | None = Field(default=None, description="Astra secure connect bundle (zip path).")
    consistency: str = "LOCAL_ONE"
    request_timeout: float = 60.0
    connect_timeout: float = 10.0
    protocol_version: int | None = Field(
        default=None, description="Native protocol version; empty means the engine's default (v4)."
    )
    page_size: int = 5000
    streams: int = Field(default=4, description="Concurrent sub-range queries per token range.")

    # One (cluster, session) per initialized resource: Dagster initializes it once per run worker
    # (or step process), every asset and check of that process shares it, and
    # ``teardown_after_execution`` shuts it down; a driver Cluster holds a pool per host plus
    # control-connection threads, far too costly to open per partition.
    _session: tuple[Any, Any] | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def connection_config(self) -> ConnectionConfig:
        """The engine's connection settings (its ``repr`` and ``safe_dict`` mask the password)."""
        from cassandra_bulk_core import ConnectionConfig

        points = self.contact_points
        if isinstance(points, str):  # tolerated for Python callers; Dagster config declares a list
            points = [points]
        from cassandra_bulk_core.connection_fields import CONNECTION_FIELDS

        # Every engine connection setting is a field of the same name here (tests/dagster/test_unit.py).
        settings = {f.name: getattr(self, f.name) for f in CONNECTION_FIELDS if f.name != "contact_points"}
        return ConnectionConfig(
            contact_points=tuple(p.strip() for entry in points for p in entry.split(",") if p.strip()),
            **settings,
        )

    def scan_options(self, columns: tuple[str, ...] | None = None) -> ScanOptions:
        from cassandra_bulk_core import ScanOptions

        config = self.connection_config()
        return ScanOptions(
            columns=columns,
            page_size=self.page_size,
            streams=self.streams,
            consistency=config.consistency,
            request_timeout=config.request_timeout,
            local_dc=config.local_dc,
        )

    def load_options(self, **options: Any) -> LoadOptions:
        """The engine's load settings: this cluster's consistency and request timeout, then ``options``."""
        from cassandra_bulk_core.load import LoadOptions

        config = self.connection_config()
        defaults: dict[str, Any] = {"consistency": config.consistency, "request_timeout": config.request_timeout}
        return LoadOptions(**{**defaults, **options})

    def safe_dict(self) -> dict[str, Any]:
        """Settings fit for logs and metadata (secrets replaced by ``***``)."""
        return self.connection_config().safe_dict()

    def get_session(self) -> tuple[Any, Any]:
        """``(cluster, session)``, opened on first use and shared until the resource is torn down."""
        with self._lock:
            if self._session is None or self._session[0].is_shutdown:
                self._session = self.connection_config().connect()
            return self._session

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def process_config_and_initialize(self) -> CassandraResource:
        """This resource with its config resolved (``EnvVar``s read), for use outside a run.

        Dagster refuses the plain form for resources with a teardown; the session opens lazily
        anyway, so initializing through the context manager and leaving it is safe. Call
        :meth:`close` when a session was opened.
        """
        with self.process_config_and_initialize_cm() as initialized:
            pass
        return initialized

    def close(self) -> None:
        """Shut the driver down (``teardown_after_execution`` does; call it when used outside Dagster)."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session[0].shutdown()

    def export_ranges(
        self,
        context: AssetExecutionContext,
        table: CassandraTable | None = None,
        *,
        catalog: IcebergCatalogResource,
        range_workers: int = 2,
    ) -> MaterializeResult:
        """Export the token ranges of ``context``'s partitions into Iceberg, one engine commit per range.

        Args:
            context: the asset's context; its partition keys name the ranges (``r03-of-16``).
            table: the table to export; default: the one ``@cassandra_iceberg_assets`` declared.
            catalog: where the Iceberg table lives.
            range_workers: ranges exported at once when the run holds several.

        Returns:
            The materialization: rows per range, snapshot, schema; each partition also gets its own
            range's figures.

        Example:
            ``return cassandra.export_ranges(context, catalog=iceberg)`` in an
            ``@cassandra_iceberg_assets`` body.
        """
        from dagster_cassandra_bulk.asset_decorator import export_partitions, table_of

        return export_partitions(context, table or table_of(context), self, catalog, range_workers=range_workers)

    def load_ranges(
        self,
        context: AssetExecutionContext,
        load: IcebergCassandraTable,
        *,
        catalog: IcebergCatalogResource | None = None,
        log_dir: str = "logs",
    ) -> MaterializeResult:
        """Load the token ranges of ``context``'s partitions from Iceberg (or files) into this cluster.

        ``catalog`` is needed for Iceberg sources; ``log_dir`` keeps checkpoints and rejected records.
        """
        from dagster_cassandra_bulk.load_assets import load_partitions

        return load_partitions(context, load, self, catalog, log_dir=log_dir)

    def __repr__(self) -> str:  # pydantic's repr would print every field; keep the password out
        return f"CassandraResource({self.safe_dict()!r})"


class IcebergCatalogResource(ConfigurableResource):  # type: ignore[misc]
    """The Iceberg catalog to write to (exports) or read from (loads).

    Empty ``properties`` means the engine's embedded default: a SQLite SQL catalog in
    ``<warehouse>/catalog.db`` with data under ``<warehouse>``. Otherwise any pyiceberg catalog,
    e.g. ``{"type": "rest", "uri": "...", "credential": EnvVar("ICEBERG_CREDENTIAL")}``; ``s3.*``
    properties also configure where data files are written.
    """

    catalog_name: str = "default"
    properties: dict[str, str] = Field(default_factory=dict, repr=False)
    warehouse: str = "warehouse"

    def iceberg_options(
        self,
        *,
        table: str | None = None,
        mode: str = "mirror",
        export_date: dt.date | None = None,
        partition_by: tuple[str, ...] = (),
        sort_by: tuple[str, ...] = (),
        table_properties: Mapping[str, str] | None = None,
    ) -> IcebergOptions:
        from cassandra_bulk_core.iceberg import IcebergOptions

        return IcebergOptions(
            table=table,
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.properties),
            warehouse=self.warehouse,
            mode=mode,
            export_date=export_date,
            partition_by=tuple(partition_by),
            sort_by=tuple(sort_by),
            table_properties=dict(table_properties or {}),
        )

    def iceberg_source(
        self,
        table: str,
        *,
        snapshot_id: int | None = None,
        row_filter: str | None = None,
        columns: tuple[str, ...] | None = None,
    ) -> IcebergSource:
        """The engine's description of an Iceberg table to load from, in this catalog."""
        from cassandra_bulk_core.sources import IcebergSource

        return IcebergSource(
            table=table,
            catalog_name=self.catalog_name,
            catalog_properties=dict(self.properties),
            warehouse=self.warehouse,
            snapshot_id=snapshot_id,
            row_filter=row_filter,
            columns=columns,
        )

    def load_catalog(self) -> Any:
        from cassandra_bulk_core.iceberg import load_catalog

        return load_catalog(self.iceberg_options())

    def load_table(self, identifier: str) -> Any:
        return self.load_catalog().load_table(identifier)

    def __repr__(self) -> str:  # catalog properties may hold credentials
        return f"IcebergCatalogResource(catalog_name={self.catalog_name!r}, warehouse={self.warehouse!r})"
