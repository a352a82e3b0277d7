"""Command line for the local cluster: ``python -m tools.local_cassandra up|down|status|provision``."""

from __future__ import annotations

import argparse
import sys
import time

from .cluster import ClusterStartError, LocalCluster
from .provision import provision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_cassandra")
    parser.add_argument("command", choices=["up", "down", "destroy", "status", "provision"])
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--name", default="local")
    parser.add_argument("--base-address", type=int, default=1, help="node i listens on 127.0.0.(BASE+i-1)")
    parser.add_argument("--num-tokens", type=int, default=16)
    parser.add_argument("--heap", default="768M")
    parser.add_argument("--auth", action="store_true", help="PasswordAuthenticator (cassandra/cassandra)")
    parser.add_argument("--fresh", action="store_true", help="wipe data before starting")
    parser.add_argument(
        "--commitlog-sync",
        choices=["periodic", "batch"],
        default="periodic",
        help="batch: acknowledge a write once its commit log is on disk (a SIGKILL loses nothing)",
    )
    parser.add_argument("--tls", action="store_true", help="client-to-node TLS; a throw-away CA in <state>/tls/")
    parser.add_argument(
        "--tls-client-auth", action="store_true", help="mutual TLS: clients must present a certificate of the CA"
    )
    args = parser.parse_args(argv)

    if args.command == "provision":
        t0 = time.monotonic()
        dist = provision()
        print(f"Cassandra {dist.version} ({dist.source}) at {dist.home} in {time.monotonic() - t0:.1f}s")
        return 0
    cluster = LocalCluster(
        name=args.name,
        nodes=args.nodes,
        base_address=args.base_address,
        num_tokens=args.num_tokens,
        heap=args.heap,
        auth=args.auth,
        commitlog_sync=args.commitlog_sync,
        tls=args.tls,
        tls_client_auth=args.tls_client_auth,
    )
    if args.command == "up":
        t0 = time.monotonic()
        try:
            cluster.start(fresh=args.fresh)
        except ClusterStartError as exc:
            print(f"cassandra did not start: {exc}", file=sys.stderr)
            return 1
        print(
            f"{args.nodes} node(s) up in {time.monotonic() - t0:.1f}s: "
            f"contact points {','.join(cluster.contact_points)} port {cluster.port} (state: {cluster.directory})"
        )
        if args.tls:
            files = cluster.tls_files
            print(f"TLS: --ssl --ssl-ca {files.ca} [--ssl-cert {files.client_cert} --ssl-key {files.client_key}]")
    elif args.command in ("down", "destroy"):
        # Whatever node count was started under this name, from the cluster's saved state.
        saved = LocalCluster.from_state(args.name)
        saved.destroy() if args.command == "destroy" else saved.stop()
        print(f"cluster '{args.name}' stopped")
    else:
        for node in LocalCluster.from_state(args.name).node_list:
            state = "up" if node.pid() and node.cql_answers() else ("starting" if node.pid() else "down")
            print(f"node{node.index} {node.address}:{node.native_port} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
