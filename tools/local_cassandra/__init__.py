"""A real local Apache Cassandra 5 for tests, the demo and benchmarks (not part of the engine).

``python -m tools.local_cassandra up --nodes 3`` / ``down`` / ``status``; the pytest fixtures in
``tests/conftest.py`` call :func:`acquire`. See ``tools/local_cassandra/README.md``.
"""

from .backends import CassandraTarget, acquire, choose_backend, existing_from_env
from .cluster import ClusterStartError, LocalCluster, Node
from .provision import DEFAULT_VERSION, Distribution, ProvisionError, provision

__all__ = [
    "DEFAULT_VERSION",
    "CassandraTarget",
    "ClusterStartError",
    "Distribution",
    "LocalCluster",
    "Node",
    "ProvisionError",
    "acquire",
    "choose_backend",
    "existing_from_env",
    "provision",
]
