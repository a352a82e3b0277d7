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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
