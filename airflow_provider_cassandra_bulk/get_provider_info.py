"""Provider metadata, returned through the ``apache_airflow_provider`` entry point.

Kept free of Airflow imports: Airflow calls it while it is still starting up.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    from airflow_provider_cassandra_bulk.connection_form import conn_fields, ui_field_behaviour
    from cassandra_bulk_core import __version__

    return {
        "package-name": "cassandra-bulk",
        "name": "Cassandra Bulk",
        "description": "Token-range parallel export/load of Apache Cassandra tables (Iceberg, Parquet, CSV, JSONL).",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Cassandra Bulk",
                "external-doc-url": "https://cassandra.apache.org/",
                "tags": ["software"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "cassandra_bulk",
                "hook-class-name": "airflow_provider_cassandra_bulk.hooks.cassandra_bulk.CassandraBulkHook",
                "hook-name": "Cassandra Bulk",
                "conn-fields": conn_fields(),
                "ui-field-behaviour": ui_field_behaviour(),
            }
        ],
        "hooks": [
            {
                "integration-name": "Cassandra Bulk",
                "python-modules": ["airflow_provider_cassandra_bulk.hooks.cassandra_bulk"],
            }
        ],
        "operators": [
            {
                "integration-name": "Cassandra Bulk",
                "python-modules": [
                    "airflow_provider_cassandra_bulk.operators.plan",
                    "airflow_provider_cassandra_bulk.operators.export",
                    "airflow_provider_cassandra_bulk.operators.count",
                    "airflow_provider_cassandra_bulk.operators.verify",
                    "airflow_provider_cassandra_bulk.operators.load",
                    "airflow_provider_cassandra_bulk.operators.maintenance",
                ],
            }
        ],
    }
