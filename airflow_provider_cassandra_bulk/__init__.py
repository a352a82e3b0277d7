"""Airflow provider for cassandra-bulk: each token range becomes a dynamically mapped task.

Operators, hook and connection type arrive with the Airflow issue; today the package is
discoverable (``apache_airflow_provider`` entry point) so ``airflow providers list`` shows it.
"""

from airflow_provider_cassandra_bulk.get_provider_info import get_provider_info

__all__ = ["get_provider_info"]
