"""Per-node configuration: cassandra.yaml, logback.xml and JVM flags, tuned for tests on small machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# From the distribution's conf/jvm17-server.options: the module exports/opens Cassandra 5.0 needs on
# Java 17. Without them the daemon fails at start with InaccessibleObjectException.
JPMS_FLAGS: tuple[str, ...] = (
    "-Djdk.attach.allowAttachSelf=true",
    *(
        f"--add-exports={m}=ALL-UNNAMED"
        for m in (
            "java.base/jdk.internal.misc",
            "java.management.rmi/com.sun.jmx.remote.internal.rmi",
            "java.rmi/sun.rmi.registry",
            "java.rmi/sun.rmi.server",
            "java.sql/java.sql",
            "java.base/java.lang.ref",
            "jdk.unsupported/sun.misc",
            "jdk.compiler/com.sun.tools.javac.file",
            "jdk.attach/sun.tools.attach",
        )
    ),
    *(
        f"--add-opens={m}=ALL-UNNAMED"
        for m in (
            "java.base/java.lang.module",
            "java.base/jdk.internal.loader",
            "java.base/jdk.internal.ref",
            "java.base/jdk.internal.reflect",
            "java.base/jdk.internal.math",
            "java.base/jdk.internal.module",
            "java.base/jdk.internal.util.jar",
            "jdk.management/com.sun.management.internal",
            "java.base/sun.nio.ch",
            "java.base/java.io",
            "java.base/java.lang.reflect",
            "jdk.compiler/com.sun.tools.javac",
            "java.base/java.lang",
            "java.base/java.util",
        )
    ),
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)

LOGBACK = """<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
"""


def node_yaml(
    *,
    cluster_name: str,
    node_dir: Path,
    address: str,
    seeds: list[str],
    num_tokens: int,
    native_port: int,
    storage_port: int,
    auth: bool,
    commitlog_sync: str = "periodic",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A minimal cassandra.yaml: Cassandra 5.0 fills every key we omit with its own default.

    ``commitlog_sync="batch"``: a write is acknowledged only once its commit log is on disk. With
    ``periodic`` (Cassandra's default, every 10 s) a SIGKILLed node replays only what its last
    sync covered, so it loses acknowledged writes of up to one period: the fault suite needs
    ``batch`` to tell a client's data loss from the server's. ``extra``: more keys (TLS)."""
    sync: dict[str, Any] = (
        {"commitlog_sync": "periodic", "commitlog_sync_period": "10000ms"}
        if commitlog_sync == "periodic"
        else {"commitlog_sync": commitlog_sync}
    )
    doc = {
        "cluster_name": cluster_name,
        "num_tokens": num_tokens,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "data_file_directories": [str(node_dir / "data")],
        "commitlog_directory": str(node_dir / "commitlog"),
        "saved_caches_directory": str(node_dir / "saved_caches"),
        "hints_directory": str(node_dir / "hints"),
        "cdc_raw_directory": str(node_dir / "cdc_raw"),
        **sync,
        "seed_provider": [
            {
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": ",".join(f"{s}:{storage_port}" for s in seeds)}],
            }
        ],
        "listen_address": address,
        "rpc_address": address,
        "storage_port": storage_port,
        "native_transport_port": native_port,
        "start_native_transport": True,
        "endpoint_snitch": "SimpleSnitch",
        # An empty cluster has nothing to stream: nodes join at once instead of bootstrapping.
        "auto_bootstrap": False,
        "authenticator": "PasswordAuthenticator" if auth else "AllowAllAuthenticator",
        "authorizer": "CassandraAuthorizer" if auth else "AllowAllAuthorizer",
        # Tests create and drop many tables; snapshots on drop/truncate only fill the disk.
        "auto_snapshot": False,
        "snapshot_before_compaction": False,
        # Small machines: keep the background work and the per-node footprint small.
        "concurrent_compactors": 1,
        "key_cache_size": "16MiB",
        "counter_cache_size": "8MiB",
        "materialized_views_enabled": True,
        "sasi_indexes_enabled": True,
        "user_defined_functions_enabled": True,
    }
    doc.update(extra or {})
    return doc


def write_node_files(conf_dir: Path, yaml_doc: dict[str, Any]) -> None:
    conf_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "cassandra.yaml").write_text(yaml.safe_dump(yaml_doc, sort_keys=False))
    (conf_dir / "logback.xml").write_text(LOGBACK)


def jvm_args(*, node_dir: Path, heap: str, jmx_port: int, fast_start: bool) -> list[str]:
    conf = node_dir / "conf"
    args = [
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-Xss256k",
        "-XX:+UseG1GC",
        "-XX:+ParallelRefProcEnabled",
        "-XX:MaxTenuringThreshold=1",
        "-XX:+HeapDumpOnOutOfMemoryError",
        f"-XX:HeapDumpPath={node_dir / 'logs'}",
        "-XX:ActiveProcessorCount=2",
        *JPMS_FLAGS,
        f"-Dcassandra.config=file://{conf / 'cassandra.yaml'}",
        f"-Dlogback.configurationFile={conf / 'logback.xml'}",
        f"-Dcassandra.logdir={node_dir / 'logs'}",
        f"-Dcassandra.storagedir={node_dir / 'data'}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.jmx.local.port={jmx_port}",
        "-Dcom.sun.management.jmxremote.authenticate=false",
    ]
    if fast_start:
        # Safe for a fresh test cluster that nobody else joins: skip the waits a production
        # node uses to let gossip settle before it serves.
        args += [
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=1000",
            "-Dcassandra.superuser_setup_delay_ms=0",
        ]
    return args
