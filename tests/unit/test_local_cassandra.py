"""The harness's own logic (config and layout); starting real nodes is covered by the integration tests."""

from pathlib import Path

from tools.local_cassandra import LocalCluster
from tools.local_cassandra.config import jvm_args, node_yaml


def test_nodes_get_distinct_addresses_dirs_and_jmx_ports(tmp_path: Path) -> None:
    cluster = LocalCluster(name="x", nodes=3, base_address=31, root=tmp_path)
    nodes = cluster.node_list
    assert [n.address for n in nodes] == ["127.0.0.31", "127.0.0.32", "127.0.0.33"]
    assert len({n.directory for n in nodes}) == 3
    assert len({n.jmx_port for n in nodes}) == 3
    assert cluster.contact_points == ["127.0.0.31", "127.0.0.32", "127.0.0.33"]


def test_node_yaml_is_vnode_murmur3_on_its_own_address(tmp_path: Path) -> None:
    doc = node_yaml(
        cluster_name="c",
        node_dir=tmp_path,
        address="127.0.0.2",
        seeds=["127.0.0.1"],
        num_tokens=16,
        native_port=9042,
        storage_port=7000,
        auth=True,
    )
    assert doc["num_tokens"] == 16
    assert doc["partitioner"].endswith("Murmur3Partitioner")
    assert doc["listen_address"] == doc["rpc_address"] == "127.0.0.2"
    assert doc["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:7000"
    assert doc["authenticator"] == "PasswordAuthenticator"
    assert all(str(tmp_path) in d for d in doc["data_file_directories"])


def test_jvm_args_carry_heap_and_java17_module_flags(tmp_path: Path) -> None:
    args = jvm_args(node_dir=tmp_path, heap="256M", jmx_port=7299, fast_start=True)
    assert "-Xmx256M" in args and "-Xms256M" in args
    assert "--add-opens=java.base/java.lang=ALL-UNNAMED" in args
    assert "-Dcassandra.jmx.local.port=7299" in args
    assert "-Dcassandra.skip_wait_for_gossip_to_settle=0" in args


def test_saved_state_restores_node_count(tmp_path: Path) -> None:
    import json

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cluster.json").write_text(json.dumps({"nodes": 3, "base_address": 5, "num_tokens": 8}))
    restored = LocalCluster.from_state("c", root=tmp_path)
    assert (restored.nodes, restored.base_address, restored.num_tokens) == (3, 5, 8)
