"""Start, wait for, and stop a local Cassandra cluster of 1..N nodes on 127.0.0.x.

Node i of a cluster based at 127.0.0.B listens on 127.0.0.(B+i-1) with the standard ports, so
several clusters can live side by side on one machine as long as their address blocks differ.
State lives in one directory per cluster (config, data, logs and a pid per node), so a cluster
started by ``make cassandra-up`` is found again by the test fixtures and by ``make cassandra-down``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .config import jvm_args, node_yaml, write_node_files
from .java import find_java
from .provision import Distribution, cache_root, provision
from .tls import TlsFiles, client_encryption_options, ensure_tls


class ClusterStartError(RuntimeError):
    """A node did not answer CQL in time; the message carries its log tail."""


@dataclass
class Node:
    index: int
    address: str
    directory: Path
    native_port: int = 9042
    storage_port: int = 7000
    jmx_port: int = 7199

    @property
    def pid_file(self) -> Path:
        return self.directory / "cassandra.pid"

    @property
    def log_file(self) -> Path:
        return self.directory / "logs" / "system.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def cql_answers(self) -> bool:
        try:
            with socket.create_connection((self.address, self.native_port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, lines: int = 60) -> str:
        out: list[str] = []
        for f in (self.log_file, self.directory / "logs" / "stdout.log"):
            if f.exists():
                out.append(f"--- {f} (last {lines} lines) ---")
                out.extend(f.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)


@dataclass
class LocalCluster:
    """A cluster of ``nodes`` local Cassandra processes; see module docstring."""

    name: str = "local"
    nodes: int = 1
    base_address: int = 1
    num_tokens: int = 16
    heap: str = "768M"
    auth: bool = False
    commitlog_sync: str = "periodic"
    """``batch``: durable acknowledgements (see :func:`config.node_yaml`)."""
    tls: bool = False
    """Client-to-node TLS with a throw-away CA made by the harness (see :mod:`.tls`)."""
    tls_client_auth: bool = False
    """Mutual TLS: a client must present a certificate signed by the harness's CA."""
    tls_san: tuple[str, ...] | None = None
    """Subject alternative names of the node certificates (default: each node's IP), e.g.
    ``("DNS:elsewhere.invalid",)`` for a certificate that fails a host name check."""
    tls_key_password: str = field(default="cassandra-bulk-test-key", repr=False)
    """Pass phrase of the encrypted client key the harness writes (``client-encrypted.key``)."""
    version: str | None = None
    root: Path = field(default_factory=lambda: cache_root() / "clusters")

    @property
    def directory(self) -> Path:
        return self.root / self.name

    @property
    def node_list(self) -> list[Node]:
        return [
            Node(
                index=i,
                address=f"127.0.0.{self.base_address + i - 1}",
                directory=self.directory / f"node{i}",
                jmx_port=7199 + 100 * (self.base_address + i - 2),
            )
            for i in range(1, self.nodes + 1)
        ]

    @property
    def contact_points(self) -> list[str]:
        return [n.address for n in self.node_list]

    @property
    def port(self) -> int:
        return 9042

    @property
    def tls_files(self) -> TlsFiles:
        return TlsFiles(self.directory / "tls")

    @classmethod
    def from_state(cls, name: str, root: Path | None = None) -> LocalCluster:
        """The cluster as it was last started under ``name`` (node count and addresses from its state)."""
        cluster = cls(name=name) if root is None else cls(name=name, root=root)
        meta = cluster.directory / "cluster.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
            cluster.nodes, cluster.base_address = saved["nodes"], saved["base_address"]
            cluster.num_tokens = saved["num_tokens"]
        return cluster

    def is_running(self) -> bool:
        return all(n.pid() is not None and n.cql_answers() for n in self.node_list)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, *, timeout: float = 180.0, fresh: bool = False) -> LocalCluster:
        """Start every node that is not running and wait until all answer CQL and see each other."""
        if fresh:
            self.destroy()
        dist = provision(self.version)
        java = find_java()
        self._check_layout_matches()
        nodes = self.node_list
        seeds = [nodes[0].address]
        for n in nodes:
            self._prepare(n, seeds)
        # The seed first, then the others together: with auto_bootstrap off in an empty
        # cluster they can join at once, which roughly halves the time for 3 nodes.
        self._start_node(nodes[0], dist, java)
        self._wait_cql(nodes[0], timeout)
        others = nodes[1:]
        for n in others:
            self._start_node(n, dist, java)
        with ThreadPoolExecutor(max_workers=max(1, len(others))) as pool:
            list(pool.map(lambda n: self._wait_cql(n, timeout), others))
        self._wait_ring(timeout)
        return self

    def stop(self, *, timeout: float = 60.0) -> None:
        nodes = self.node_list
        for n in nodes:
            pid = n.pid()
            if pid is not None:
                os.killpg(pid, signal.SIGTERM) if _is_group_leader(pid) else os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for n in nodes:
            while n.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            pid = n.pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            n.pid_file.unlink(missing_ok=True)

    def destroy(self) -> None:
        """Stop and delete all state (data, logs)."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- internals -----------------------------------------------------------------------------

    def _check_layout_matches(self) -> None:
        """A cluster directory remembers its node count; a different count means start over."""
        meta = self.directory / "cluster.json"
        want = {"nodes": self.nodes, "base_address": self.base_address, "num_tokens": self.num_tokens}
        if meta.exists() and json.loads(meta.read_text()) != want:
            self.destroy()
        self.directory.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(want))

    def _prepare(self, node: Node, seeds: list[str]) -> None:
        for sub in ("data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs", "conf"):
            (node.directory / sub).mkdir(parents=True, exist_ok=True)
        extra: dict[str, object] = {}
        if self.tls:
            files = ensure_tls(self.tls_files.directory, self.contact_points, self.tls_key_password, self.tls_san)
            extra["client_encryption_options"] = client_encryption_options(
                files.node(node.address), files.ca, self.tls_client_auth
            )
        write_node_files(
            node.directory / "conf",
            node_yaml(
                cluster_name=self.name,
                node_dir=node.directory,
                address=node.address,
                seeds=seeds,
                num_tokens=self.num_tokens,
                native_port=node.native_port,
                storage_port=node.storage_port,
                auth=self.auth,
                commitlog_sync=self.commitlog_sync,
                extra=extra,
            ),
        )

    def _start_node(self, node: Node, dist: Distribution, java: str) -> None:
        if node.pid() is not None:
            return
        cmd = [
            java,
            *jvm_args(node_dir=node.directory, heap=self.heap, jmx_port=node.jmx_port, fast_start=True),
            "-cp",
            f"{node.directory / 'conf'}{os.pathsep}{dist.classpath}",
            "org.apache.cassandra.service.CassandraDaemon",
        ]
        stdout = open(node.directory / "logs" / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            cmd, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        stdout.close()
        node.pid_file.write_text(str(proc.pid))

    def _wait_cql(self, node: Node, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.pid() is None:
                raise ClusterStartError(f"node {node.index} ({node.address}) exited\n{node.log_tail()}")
            if node.cql_answers():
                return
            time.sleep(0.25)
        raise ClusterStartError(
            f"node {node.index} ({node.address}) did not answer CQL within {timeout:.0f}s\n{node.log_tail()}"
        )

    def _wait_ring(self, timeout: float) -> None:
        """Wait until every node lists all the others as peers, so the driver sees the whole ring."""
        if self.nodes == 1:
            return
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import WhiteListRoundRobinPolicy

        deadline = time.monotonic() + timeout
        pending = {n.address for n in self.node_list}
        while pending and time.monotonic() < deadline:
            for address in sorted(pending):
                profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([address]))
                cluster = Cluster([address], execution_profiles={EXEC_PROFILE_DEFAULT: profile}, protocol_version=5)
                try:
                    session = cluster.connect()
                    peers = list(session.execute("SELECT peer, tokens FROM system.peers_v2"))
                    if len(peers) == self.nodes - 1 and all(p.tokens for p in peers):
                        pending.discard(address)
                except Exception:
                    pass
                finally:
                    cluster.shutdown()
            if pending:
                time.sleep(1)
        if pending:
            tails = "\n".join(n.log_tail(30) for n in self.node_list if n.address in pending)
            raise ClusterStartError(f"nodes {sorted(pending)} do not see the whole ring\n{tails}")


def _alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        # Reap it if it is our child (a node started by this process), so it stops being a zombie.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_group_leader(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False
