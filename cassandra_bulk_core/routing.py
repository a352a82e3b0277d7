"""Topology-aware cutting of a planned range into sub-queries, each sent to a replica.

Topology is used here and only here: a planned range (stable, topology-free) is cut at the ring's
vnode tokens, so every piece is owned by one replica set, then optionally split further for
parallelism. Each piece carries its replicas, local DC first, so a failed query can move to the
next replica.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .ring import TokenRange, owning_ring_token

MURMUR3 = "org.apache.cassandra.dht.Murmur3Partitioner"


@dataclass(frozen=True)
class SubRange:
    tokens: TokenRange
    replicas: tuple[Any, ...]  # cassandra.pool.Host, preferred first

    @property
    def primary(self) -> Any:
        return self.replicas[0] if self.replicas else None


def require_murmur3(cluster: Any) -> None:
    """Refuse a cluster whose partitioner is not Murmur3, before any query.

    Range plans, token windows and load routing are Murmur3 token math: on a RandomPartitioner
    (tokens 0..2^127) or ByteOrderedPartitioner cluster, a "full" scan of the Murmur3 ring would
    read part of the data and report success. Refusing is the only faithful answer until those
    rings are planned too."""
    partitioner = getattr(cluster.metadata, "partitioner", None)
    if partitioner and partitioner != MURMUR3:
        name = partitioner.rsplit(".", 1)[-1]
        raise ConfigError(
            f"the cluster uses {name}; cassandra-bulk plans token ranges for Murmur3Partitioner only, "
            "so it refuses to run rather than cover part of the ring"
        )


def ring_tokens(cluster: Any) -> list[int]:
    token_map = cluster.metadata.token_map
    if token_map is None:
        return []
    return sorted(t.value for t in token_map.ring)


def route(
    cluster: Any, keyspace: str, tokens: TokenRange, *, local_dc: str | None = None, splits_per_vnode: int = 1
) -> list[SubRange]:
    """Cut ``tokens`` at vnode boundaries (then evenly) and attach each piece's replicas."""
    from cassandra.metadata import Murmur3Token

    require_murmur3(cluster)
    token_map = cluster.metadata.token_map
    ring = ring_tokens(cluster)
    pieces = tokens.split_at(ring) if ring else [tokens]
    if splits_per_vnode > 1:
        pieces = [p for piece in pieces for p in piece.split_evenly(splits_per_vnode)]
    rotation = itertools.count()
    out: list[SubRange] = []
    for piece in pieces:
        replicas: list[Any] = []
        if ring and token_map is not None:
            owner = owning_ring_token(piece.end, ring)
            replicas = list(token_map.get_replicas(keyspace, Murmur3Token(owner)))
        replicas = [h for h in replicas if h.is_up is not False]
        local = [h for h in replicas if local_dc is None or h.datacenter == local_dc]
        remote = [h for h in replicas if h not in local]
        if local:
            # Rotate the replica order so consecutive pieces spread over the replica set.
            k = next(rotation) % len(local)
            local = local[k:] + local[:k]
        out.append(SubRange(piece, tuple(local + remote)))
    return out
