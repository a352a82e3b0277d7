"""Where the test/demo Cassandra comes from: an existing cluster, the local harness, or Docker.

Order: ``CASSANDRA_CONTACT_POINTS`` names an existing cluster (nothing is started or stopped);
otherwise a local JVM when Java 17 and Maven are there (``CASSANDRA_BACKEND=local``); otherwise
a testcontainers Cassandra 5 container when a Docker engine answers (``CASSANDRA_BACKEND=docker``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from .cluster import LocalCluster
from .java import JavaNotFound, find_java


@dataclass
class CassandraTarget:
    """What a client needs to reach the cluster, plus how to release it."""

    contact_points: list[str]
    port: int = 9042
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    local_dc: str = "datacenter1"
    nodes: int = 1
    backend: str = "local"
    release: Callable[[], None] = field(default=lambda: None, repr=False)


def existing_from_env(prefix: str = "CASSANDRA") -> CassandraTarget | None:
    points = os.environ.get(f"{prefix}_CONTACT_POINTS")
    if not points:
        return None
    contact = [p.strip() for p in points.split(",") if p.strip()]
    return CassandraTarget(
        contact_points=contact,
        port=int(os.environ.get(f"{prefix}_PORT", "9042")),
        username=os.environ.get(f"{prefix}_USERNAME") or None,
        password=os.environ.get(f"{prefix}_PASSWORD") or None,
        local_dc=os.environ.get(f"{prefix}_LOCAL_DC", "datacenter1"),
        nodes=int(os.environ.get(f"{prefix}_NODES", str(len(contact)))),
        backend="existing",
    )


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def local_available() -> bool:
    try:
        find_java()
    except JavaNotFound:
        return False
    return shutil.which("mvn") is not None


def choose_backend() -> str:
    wanted = os.environ.get("CASSANDRA_BACKEND", "auto")
    if wanted != "auto":
        return wanted
    if local_available():
        return "local"
    if docker_available():
        return "docker"
    raise RuntimeError(
        "no way to run Cassandra here: install Java 17 and Maven (the local harness), "
        "start a Docker engine, or set CASSANDRA_CONTACT_POINTS to an existing cluster"
    )


def start_docker(version: str) -> CassandraTarget:
    """A single-node Cassandra in a container (testcontainers), for machines with Docker but no JVM."""
    from testcontainers.cassandra import CassandraContainer

    container = CassandraContainer(f"cassandra:{version}")
    container.start()
    host = container.get_container_host_ip()
    port = int(container.get_exposed_port(9042))
    return CassandraTarget(
        contact_points=[host], port=port, local_dc="datacenter1", backend="docker", release=container.stop
    )


def acquire(*, name: str, nodes: int, base_address: int, keep_running: bool | None = None) -> CassandraTarget:
    """Return a running cluster of ``nodes`` nodes, starting one if needed.

    A cluster that was already running (``make cassandra-up``) is reused and left running;
    one started here is stopped by ``release()`` unless ``keep_running`` (or
    ``CASSANDRA_KEEP_RUNNING=1``) says otherwise.
    """
    existing = existing_from_env() if nodes == 1 else existing_from_env("CASSANDRA_CLUSTER")
    if existing is not None:
        return existing
    backend = choose_backend()
    if backend == "docker":
        if nodes != 1:
            raise RuntimeError("the Docker backend runs one node; multi-node tests need the local harness")
        return start_docker(os.environ.get("CASSANDRA_DOCKER_TAG", "5.0"))
    if keep_running is None:
        keep_running = os.environ.get("CASSANDRA_KEEP_RUNNING", "") == "1"
    cluster = LocalCluster(name=name, nodes=nodes, base_address=base_address)
    was_running = cluster.is_running()
    if not was_running:
        cluster.start()
    release: Callable[[], None] = (lambda: None) if (was_running or keep_running) else cluster.stop
    return CassandraTarget(contact_points=cluster.contact_points, nodes=nodes, backend="local", release=release)
