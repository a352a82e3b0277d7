"""OpenLineage datasets for the operators, built from what ``execute`` recorded (no extra queries).

The OpenLineage provider is optional: everything it defines is imported inside these functions,
which the operators call only from ``get_openlineage_facets_on_complete`` — a method the provider
alone invokes. Without it installed, the provider's operators import and run unchanged.

Naming: the Cassandra table is ``cassandra://host:port`` / ``keyspace.table`` (OpenLineage's
naming table); an Iceberg table is the catalog's warehouse (or catalog URI) / ``namespace.table``;
files are their object-store location (``s3://bucket`` / ``prefix``, or ``file`` / absolute path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from airflow_provider_cassandra_bulk.operators.base import SourceTable


def cassandra_dataset(source: SourceTable) -> Any:
    """The table read, with a schema facet of its CQL columns."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace=source.namespace, name=source.name, facets=_schema_facets(source))


def iceberg_namespace(warehouse: str, catalog_properties: Mapping[str, str] | None) -> str:
    """Where an Iceberg table lives: the catalog's ``warehouse`` or ``uri`` property, else the
    embedded catalog's warehouse directory as a ``file://`` URI."""
    props = dict(catalog_properties or {})
    for key in ("warehouse", "uri"):
        if props.get(key):
            return _strip_credentials(str(props[key])).rstrip("/")
    return Path(warehouse).absolute().as_uri()


@dataclass(frozen=True)
class IcebergLocation:
    """Where a catalog lives, as the parts of an asset URI: authority, path and query."""

    netloc: str
    path: str
    query: str = ""


def iceberg_location(
    warehouse: str, catalog_name: str, catalog_properties: Mapping[str, str] | None
) -> IcebergLocation:
    """The catalog's identity for an asset URI, without credentials and without reading any file
    (it runs at DAG parse): the ``uri`` property (scheme dropped; ``warehouse=`` as the query when
    set), else the ``warehouse`` property, else a named catalog's name, else the embedded catalog's
    absolute warehouse directory."""
    props = dict(catalog_properties or {})

    def parts_of(value: str) -> tuple[str, str]:
        parts = urlsplit(_strip_credentials(value))
        if parts.scheme and len(parts.scheme) > 1:  # not a Windows drive letter
            netloc, path = parts.netloc, parts.path
        else:
            netloc, path = "", Path(value).absolute().as_posix()
        path = path.rstrip("/")
        return netloc, ("/" + path.lstrip("/")) if path else ""

    if props.get("uri"):
        extra = props.get("warehouse")
        query = urlencode({"warehouse": _strip_credentials(str(extra))}) if extra else ""
        return IcebergLocation(*parts_of(str(props["uri"])), query)
    if props.get("warehouse"):
        return IcebergLocation(*parts_of(str(props["warehouse"])))
    if catalog_name != "default":
        return IcebergLocation(f"catalog-{catalog_name}", "")
    return IcebergLocation(*parts_of(str(warehouse)))


def run_catalog_properties(
    catalog_name: str, explicit: Mapping[str, str] | None, warehouse: str
) -> Mapping[str, str] | None:
    """The properties the task's catalog was opened with, a catalog configured only in
    ``.pyiceberg.yaml`` / ``PYICEBERG_CATALOG__*`` included, so its lineage namespace is its own
    ``warehouse``/``uri`` and not the operator's default warehouse directory. Called after
    ``execute`` (the engine is loaded by then); used for naming only, and never logged."""
    try:
        from cassandra_bulk_core.iceberg.catalog_config import resolve_catalog

        return resolve_catalog(catalog_name, dict(explicit or {}), warehouse)[1]
    except Exception:  # lineage must not fail a task that succeeded: fall back to what was given
        return explicit


def iceberg_dataset(
    warehouse: str, catalog_properties: Mapping[str, str] | None, identifier: str, source: SourceTable | None
) -> Any:
    """The Iceberg table written (``namespace.table``), with the source's columns."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    namespace = iceberg_namespace(warehouse, catalog_properties)
    return Dataset(namespace=namespace, name=identifier, facets=_schema_facets(source))


def files_dataset(destination: str, source: SourceTable | None) -> Any:
    """An object-store location: ``s3://bucket`` + key prefix, or ``file`` + absolute path."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(destination)
    if parts.scheme and parts.scheme != "file" and len(parts.scheme) > 1:  # not a Windows drive letter
        namespace, name = f"{parts.scheme}://{parts.hostname or ''}", parts.path.lstrip("/") or "/"
    else:
        namespace, name = "file", str(Path(parts.path if parts.scheme == "file" else destination).absolute())
    return Dataset(namespace=namespace, name=name, facets=_schema_facets(source))


def operator_lineage(inputs: list[Any], outputs: list[Any]) -> Any:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=inputs, outputs=outputs)


def _schema_facets(source: SourceTable | None) -> dict[str, Any]:
    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacet, SchemaDatasetFacetFields

    if source is None:
        return {}
    fields = [SchemaDatasetFacetFields(name=name, type=cql_type) for name, cql_type in source.columns]
    return {"schema": SchemaDatasetFacet(fields=fields)}


def _strip_credentials(uri: str) -> str:
    """A catalog URI may carry ``user:password@``: lineage must never see it."""
    parts = urlsplit(uri)
    if parts.password is None and parts.username is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
