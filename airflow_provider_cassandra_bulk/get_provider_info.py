"""Provider metadata, returned through the ``apache_airflow_provider`` entry point.

Kept free of Airflow imports: Airflow calls it while it is still starting up.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    from cassandra_bulk_core import __version__

    return {
        "package-name": "cassandra-bulk",
        "name": "Cassandra Bulk",
        "description": "Token-range parallel export/load of Apache Cassandra tables (Iceberg, Parquet, CSV, JSONL).",
        "versions": [__version__],
        # Filled by the Airflow issue: connection-types, hooks, operators, triggers.
        "connection-types": [],
        "hooks": [],
        "operators": [],
    }
