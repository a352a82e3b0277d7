"""Provider unit tests: discovery, connection mapping, secrets, plan descriptors, DAG import (no Cassandra)."""

from __future__ import annotations

import importlib
import json
import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cassandra_bulk.ranges import plan_descriptors, resolve_ranges
from cassandra_bulk_core.ring import plan_ranges

SECRET = "Sup3r-Secret-Pa55word"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "airflow" / "cassandra_to_iceberg.py"


def _provider_info() -> dict:
    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_cassandra")
    ]
    return ep.load()()


def test_provider_info_names_importable_hook_and_operators() -> None:
    info = _provider_info()
    assert info["package-name"] == "cassandra-bulk"
    (conn_type,) = info["connection-types"]
    module, _, cls = conn_type["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), cls)
    assert hook.conn_type == conn_type["connection-type"] == "cassandra_bulk"
    assert hook.default_conn_name == "cassandra_bulk_default"
    for section in ("hooks", "operators"):
        for entry in info[section]:
            for mod in entry["python-modules"]:
                importlib.import_module(mod)
    json.dumps(info)


def test_provider_info_module_does_not_import_airflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from airflow_provider_cassandra_bulk import get_provider_info; get_provider_info();"
        "sys.exit(1 if any(m.split('.')[0] == 'airflow' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _connection(**overrides: object) -> object:
    from airflow.sdk import Connection

    values: dict = {
        "conn_id": "cb",
        "conn_type": "cassandra_bulk",
        "host": "10.0.0.1, 10.0.0.2,10.0.0.3",
        "port": 9142,
        "login": "reader",
        "password": SECRET,
        "schema": "sales",
        "extra": json.dumps(
            {
                "local_dc": "dc-east",
                "consistency": "local_quorum",
                "ssl": "true",
                "ssl_ca": "/etc/ca.pem",
                "ssl_cert": "/etc/client.pem",
                "ssl_key": "/etc/client.key",
                "ssl_verify_hostname": "false",
                "protocol_version": "5",
                "request_timeout": "120",
                "page_size": 2000,
            }
        ),
    }
    values.update(overrides)
    return Connection(**values)


def test_hook_builds_connection_config_from_connection_and_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    hook = CassandraBulkHook(cassandra_conn_id="cb")
    calls: list[str] = []

    def fake_get_connection(conn_id: str) -> object:
        calls.append(conn_id)
        return _connection()

    monkeypatch.setattr(CassandraBulkHook, "get_connection", staticmethod(fake_get_connection))
    assert calls == []  # lazy: nothing read at construction
    config = hook.get_connection_config()
    assert config.contact_points == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert config.port == 9142
    assert (config.username, config.password) == ("reader", SECRET)
    assert config.local_dc == "dc-east"
    assert config.consistency == "LOCAL_QUORUM"
    assert config.ssl_enabled is True and config.ssl_verify_hostname is False
    assert (config.ssl_ca_file, config.ssl_cert_file, config.ssl_key_file) == (
        "/etc/ca.pem",
        "/etc/client.pem",
        "/etc/client.key",
    )
    assert config.protocol_version == 5 and config.request_timeout == 120.0
    assert hook.default_keyspace == "sales" and hook.page_size == 2000
    assert calls == ["cb"]  # read once, then cached
    assert SECRET not in repr(config) and SECRET not in json.dumps(config.safe_dict())


def test_hook_reads_connection_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT",
        json.dumps(
            {
                "conn_type": "cassandra_bulk",
                "host": "127.0.0.9",
                "port": 9043,
                "extra": {"secure_connect_bundle": "/b.zip", "consistency": "ONE"},
            }
        ),
    )
    config = CassandraBulkHook().get_connection_config()
    assert config.contact_points == ("127.0.0.9",) and config.port == 9043
    assert config.secure_connect_bundle == "/b.zip" and config.consistency == "ONE"
    assert config.username is None and config.password is None


def test_minimal_connection_keeps_engine_defaults() -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection
    from cassandra_bulk_core.connection import ConnectionConfig

    config = config_from_connection(_connection(host=None, port=None, login=None, password=None, extra=None))
    assert config == ConnectionConfig()


def test_test_connection_fails_without_leaking_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    # Nothing listens on 127.0.0.1:1; the login is in the failure, the password is not.
    conn = _connection(host="127.0.0.1", port=1, extra=json.dumps({"connect_timeout": "1"}))
    monkeypatch.setattr(CassandraBulkHook, "get_connection", staticmethod(lambda conn_id: conn))
    with caplog.at_level(logging.DEBUG):
        ok, message = CassandraBulkHook(cassandra_conn_id="cb").test_connection()
    assert ok is False and message
    assert SECRET not in message and SECRET not in caplog.text


def test_ui_field_behaviour_and_widgets() -> None:
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import EXTRA_FIELDS, CassandraBulkHook

    behaviour = CassandraBulkHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["host"] == "Contact points"
    json.dumps(behaviour)
    # The extra fields are declared in provider info (conn-fields), not as deprecated FAB widgets;
    # test_connection_form_is_declared_in_provider_info_for_airflow_3_2_plus checks every one.
    assert "get_connection_form_widgets" not in CassandraBulkHook.__dict__
    assert set(EXTRA_FIELDS) >= {"local_dc", "consistency", "ssl", "ssl_ca"}


def test_plan_descriptors_are_json_safe_stable_and_cover_the_ring() -> None:
    plan = plan_descriptors(16)
    assert plan == plan_descriptors(16)  # deterministic
    assert json.loads(json.dumps(plan)) == plan
    assert plan[3] == {
        "range_id": "r03-of-16",
        "start": str(plan_ranges(16)[3].tokens.start),
        "end": str(plan_ranges(16)[3].tokens.end),
    }
    assert all(isinstance(v, str) for d in plan for v in d.values())
    assert [d["range_id"] for d in plan] == [r.id for r in plan_ranges(16)]
    assert plan[0]["start"] == str(-(2**63)) and plan[-1]["end"] == str(2**63 - 1)


def test_plan_groups_ranges_beyond_max_map_length() -> None:
    plan = plan_descriptors(10, max_map_length=4)
    assert len(plan) == 4
    ids = [i for d in plan for i in d["range_id"].split(",")]
    assert ids == [r.id for r in plan_ranges(10)]
    for d in plan:  # each group is contiguous and resolves to its members
        members = resolve_ranges(d)
        assert members is not None and str(members[0].tokens.start) == d["start"]


def test_plan_operator_execute_returns_descriptors() -> None:
    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import CassandraRangePlanOperator

    op = CassandraRangePlanOperator(task_id="plan", splits=8)
    out = op.execute({})
    assert out == plan_descriptors(8) and len(out) == 8 and out[0]["range_id"] == "r0-of-8"


def test_resolve_ranges_accepts_ids_descriptors_and_lists() -> None:
    r = plan_ranges(16)
    assert resolve_ranges(None) is None
    assert resolve_ranges("r03-of-16") == [r[3]]
    assert resolve_ranges("r03-of-16,r04-of-16") == [r[3], r[4]]
    assert resolve_ranges(plan_descriptors(16)[5]) == [r[5]]
    assert resolve_ranges([{"range_id": "r01-of-16"}, "r02-of-16"]) == [r[1], r[2]]
    with pytest.raises(ValueError, match="plan gives"):
        resolve_ranges({**plan_descriptors(16)[5], "start": "0"})
    with pytest.raises(ValueError, match="different plans"):
        resolve_ranges(["r1-of-8", "r01-of-16"])


def test_operators_do_no_io_at_construction_and_verify_has_asset_outlet() -> None:
    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
        CassandraCountOperator,
        CassandraIcebergVerifyOperator,
        CassandraToFilesOperator,
        CassandraToIcebergOperator,
        iceberg_asset,
    )

    # An unknown connection id would fail on any lookup: construction must not look.
    kw: dict[str, Any] = {"table": "ks.tbl", "cassandra_conn_id": "does_not_exist"}
    CassandraToIcebergOperator(task_id="a", warehouse="/nonexistent/wh", range_id="r1-of-8", **kw)
    CassandraToFilesOperator(task_id="b", destination="s3://nowhere/x", **kw)
    CassandraCountOperator(task_id="d", range_id="r1-of-8", **kw)
    verify = CassandraIcebergVerifyOperator(task_id="c", warehouse="/nonexistent/wh", splits=8, **kw)
    assert verify.outlets == [iceberg_asset("ks.tbl", warehouse="/nonexistent/wh")]
    assert verify.outlets[0].uri == "iceberg:/nonexistent/wh/ks/tbl"


@pytest.mark.parametrize(
    ("kwargs", "uri"),
    [
        ({"warehouse": "/data/wh"}, "iceberg:/data/wh/demo/events"),
        (  # a REST catalog: the service and its warehouse, never the credentials
            {"catalog_properties": {"uri": "https://etl:pw@cat.example.com/api/catalog/", "warehouse": "prod"}},
            "iceberg://cat.example.com/api/catalog/demo/events?warehouse=prod",
        ),
        ({"catalog_properties": {"warehouse": "s3://bucket/lake/"}}, "iceberg://bucket/lake/demo/events"),
        ({"catalog_properties": {"uri": "sqlite:////srv/cat.db"}}, "iceberg:/srv/cat.db/demo/events"),
        ({"catalog_name": "lake"}, "iceberg://catalog-lake/demo/events"),
    ],
)
def test_iceberg_asset_names_the_catalog_location(kwargs: dict[str, Any], uri: str) -> None:
    """Two deployments with a ``demo.events`` in different catalogs get different assets (the
    first release named both ``iceberg://default/demo/events``)."""
    from airflow_provider_cassandra_bulk.operators.verify import iceberg_asset

    asset = iceberg_asset("demo.events", **kwargs)
    assert asset.uri == uri and "pw" not in asset.uri
    assert iceberg_asset("demo.events", warehouse="/a/wh") != iceberg_asset("demo.events", warehouse="/b/wh")


def test_operators_template_the_connection_and_dict_arguments() -> None:
    """``cassandra_conn_id`` and the dict arguments are rendered (a DAG may pick the cluster per
    run), and the UI shows the dicts as JSON."""
    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import (
        CassandraCountOperator,
        CassandraIcebergVerifyOperator,
        CassandraToFilesOperator,
        CassandraToIcebergOperator,
        FilesToCassandraOperator,
        IcebergToCassandraOperator,
    )

    for op in (
        CassandraCountOperator,
        CassandraIcebergVerifyOperator,
        CassandraToFilesOperator,
        CassandraToIcebergOperator,
        FilesToCassandraOperator,
        IcebergToCassandraOperator,
    ):
        assert "cassandra_conn_id" in op.template_fields, op.__name__
        for field, renderer in op.template_fields_renderers.items():
            assert field in op.template_fields and renderer == "json", (op.__name__, field)
    for op in (CassandraToIcebergOperator, CassandraIcebergVerifyOperator, IcebergToCassandraOperator):
        assert "catalog_properties" in op.template_fields, op.__name__
    for op in (IcebergToCassandraOperator, FilesToCassandraOperator):
        assert "mapping" in op.template_fields, op.__name__

    export = CassandraToIcebergOperator(
        task_id="e",
        table="ks.tbl",
        cassandra_conn_id="{{ params.cluster }}",
        catalog_properties={"uri": "{{ params.catalog }}", "warehouse": "fixed"},
    )
    export.render_template_fields({"params": {"cluster": "cassandra_eu", "catalog": "https://cat.eu"}})
    assert export.cassandra_conn_id == "cassandra_eu"
    assert export.catalog_properties == {"uri": "https://cat.eu", "warehouse": "fixed"}


def test_every_example_dag_imports_without_errors() -> None:
    """The whole examples folder, as Airflow's parser sees it (``.airflowignore`` skips the demo)."""
    from airflow.dag_processing.dagbag import DagBag

    # Airflow 3.3's DagBag has no include_examples argument: examples come only with
    # [core] load_examples, which conftest turns off.
    bag = DagBag(dag_folder=str(EXAMPLE.parent))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "cassandra_to_iceberg",
        "cassandra_nightly_iceberg",
        "cassandra_backfill_ranges",
        "iceberg_to_cassandra_restore",
    }
    explicit = bag.dags["cassandra_to_iceberg"]
    assert {t.task_id for t in explicit.tasks} == {"plan", "export_range", "verify"}
    nightly = bag.dags["cassandra_nightly_iceberg"]
    assert {t.task_id for t in nightly.tasks} == {"nightly.plan", "nightly.export_range", "nightly.verify"}
    assert nightly.get_task("nightly.export_range").partial_kwargs["mode"] == "daily"
    assert nightly.get_task("nightly.export_range").partial_kwargs["export_date"] == "{{ data_interval_start | ds }}"
    backfill = bag.dags["cassandra_backfill_ranges"]
    assert backfill.get_task("backfill.plan").ranges == "{{ dag_run.conf['ranges'] }}"
    assert "ranges" in backfill.params
    restore = bag.dags["iceberg_to_cassandra_restore"]
    assert type(restore.timetable).__name__ == "NullTimetable"  # manual only
    assert {t.task_id for t in restore.tasks} == {"restore.snapshot", "restore.plan", "restore.load_range"}
    load = restore.get_task("restore.load_range")
    assert load.partial_kwargs["table"] == "{{ params.target_table }}"
    assert load.partial_kwargs["max_errors"] == 0
    assert restore.get_task("restore.snapshot").snapshot_id == "{{ params.snapshot_id }}"
    assert {"iceberg_table", "target_table", "snapshot_id"} <= set(restore.params)


def test_airflow_cli_lists_provider_and_connection_type() -> None:
    """In the temporary AIRFLOW_HOME (see conftest), as a user would check it."""
    import subprocess
    import sys

    airflow = str(Path(sys.executable).with_name("airflow"))
    providers = subprocess.run([airflow, "providers", "list", "-o", "json"], capture_output=True, text=True)
    assert providers.returncode == 0, providers.stderr[-2000:]
    (ours,) = [p for p in json.loads(providers.stdout) if p["package_name"] == "cassandra-bulk"]
    assert ours["version"] == _provider_info()["versions"][0]
    hooks = subprocess.run([airflow, "providers", "hooks", "-o", "json"], capture_output=True, text=True)
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    (conn_type,) = [h for h in json.loads(hooks.stdout) if h["connection_type"] == "cassandra_bulk"]
    assert conn_type["class"] == "airflow_provider_cassandra_bulk.hooks.cassandra_bulk.CassandraBulkHook"
    assert conn_type["package_name"] == "cassandra-bulk" and conn_type["conn_id_attribute_name"] == "cassandra_conn_id"


def test_group_descriptors_for_a_chosen_selection() -> None:
    from airflow_provider_cassandra_bulk.ranges import group_descriptors

    r = plan_ranges(16)
    picked = group_descriptors(["r07-of-16", "r03-of-16", "r04-of-16", "r03-of-16"])
    assert [d["range_id"] for d in picked] == ["r03-of-16", "r04-of-16", "r07-of-16"]  # ring order, no repeats
    assert picked[0]["start"] == str(r[3].tokens.start)
    grouped = group_descriptors(["r03-of-16", "r04-of-16", "r07-of-16"], max_map_length=2)
    assert grouped == [
        {"range_id": "r03-of-16", "start": str(r[3].tokens.start), "end": str(r[3].tokens.end)},
        {"range_id": "r04-of-16,r07-of-16"},  # not neighbours: named by ids only
    ]
    assert resolve_ranges(grouped) == [r[3], r[4], r[7]]
    with pytest.raises(ValueError, match="no ranges"):
        group_descriptors([])


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ("['r1-of-8', 'r2-of-8']", ["r1-of-8", "r2-of-8"]),  # a list rendered by a plain template
        ('["r1-of-8"]', ["r1-of-8"]),
        ("r1-of-8, r2-of-8", ["r1-of-8", "r2-of-8"]),
        (["r1-of-8"], ["r1-of-8"]),
    ],
)
def test_plan_operator_parses_rendered_selections(rendered: Any, expected: list[str]) -> None:
    from airflow_provider_cassandra_bulk.operators.plan import parse_selection

    assert parse_selection(rendered) == expected


def test_plan_operator_reads_max_map_length_from_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cassandra_bulk.operators.plan import CassandraRangePlanOperator

    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "5")
    plan = CassandraRangePlanOperator(task_id="plan", splits=16).execute({})
    assert len(plan) == 5 and ",".join(d["range_id"] for d in plan) == ",".join(r.id for r in plan_ranges(16))
    chosen = CassandraRangePlanOperator(task_id="plan", ranges="r1-of-8,r2-of-8", max_map_length=1).execute({})
    assert chosen == [{"range_id": "r1-of-8,r2-of-8", "start": chosen[0]["start"], "end": chosen[0]["end"]}]
    monkeypatch.delenv("AIRFLOW__CORE__MAX_MAP_LENGTH")
    assert len(CassandraRangePlanOperator(task_id="plan", splits=16).execute({})) == 16


def test_task_group_helper_wires_plan_mapped_export_and_verify() -> None:
    from airflow.sdk import DAG

    from airflow_provider_cassandra_bulk.task_group import cassandra_to_iceberg_task_group

    with DAG("tg", schedule=None) as dag:
        group = cassandra_to_iceberg_task_group(table="ks.tbl", warehouse="/wh", splits=8, cassandra_conn_id="nope")
        picked = cassandra_to_iceberg_task_group(
            group_id="picked", table="ks.tbl", warehouse="/wh", ranges="{{ dag_run.conf['ranges'] }}"
        )
    assert group.group_id == "export_ks_tbl"
    plan, export, verify = (dag.get_task(f"export_ks_tbl.{t}") for t in ("plan", "export_range", "verify"))
    assert plan.downstream_task_ids == {export.task_id} and export.downstream_task_ids == {verify.task_id}
    assert export.partial_kwargs["cassandra_conn_id"] == "nope" and verify.splits == 8 and verify.range_id is None
    assert [o.uri for o in verify.outlets] == ["iceberg:/wh/ks/tbl"]
    # With chosen ranges, verify checks the planner's output (an XComArg resolved at run time).
    assert picked.group_id == "picked"
    picked_verify = dag.get_task("picked.verify")
    assert type(picked_verify.range_id).__name__ == "PlainXComArg"
    assert "picked.plan" in picked_verify.upstream_task_ids


def test_provider_works_without_the_openlineage_provider() -> None:
    """With every OpenLineage module unimportable (the client library, the provider's extractors,
    the compat facets), everything still imports and a DAG builds: only the lineage methods, which
    that provider alone calls, import them. (Its distribution stays installed so that Airflow's own
    provider discovery keeps working in this process.)"""
    import subprocess
    import sys

    code = (
        "import sys, importlib.abc\n"
        "BLOCKED = ('openlineage', 'airflow.providers.openlineage.extractors',"
        " 'airflow.providers.common.compat.openlineage')\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if any(name == b or name.startswith(b + '.') for b in BLOCKED):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from airflow.sdk import DAG\n"
        "from airflow_provider_cassandra_bulk.operators.cassandra_bulk import CassandraCountOperator\n"
        "from airflow_provider_cassandra_bulk.task_group import cassandra_to_iceberg_task_group\n"
        "with DAG('x', schedule=None) as dag:\n"
        "    cassandra_to_iceberg_task_group(table='ks.t', warehouse='/wh')\n"
        "    CassandraCountOperator(task_id='c', table='ks.t')\n"
        "assert len(dag.tasks) == 4\n"
        "try:\n"
        "    dag.get_task('export_ks_t.verify').get_openlineage_facets_on_complete(None)\n"
        "except ImportError as e:\n"
        "    assert 'blocked' in str(e)\n"
        "else:\n"
        "    raise AssertionError('the lineage method should need OpenLineage')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.parametrize(
    ("destination", "namespace", "name"),
    [
        ("s3://my-bucket/exports/events", "s3://my-bucket", "exports/events"),
        ("gs://b/x/", "gs://b", "x/"),
        ("/data/out", "file", "/data/out"),
        ("file:///data/out", "file", "/data/out"),
    ],
)
def test_lineage_names_object_store_locations(destination: str, namespace: str, name: str) -> None:
    from airflow_provider_cassandra_bulk.lineage import files_dataset

    dataset = files_dataset(destination, None)
    assert (dataset.namespace, dataset.name) == (namespace, name)


def test_lineage_iceberg_namespace_from_catalog_without_credentials() -> None:
    from airflow_provider_cassandra_bulk.lineage import iceberg_dataset, iceberg_namespace
    from airflow_provider_cassandra_bulk.operators.base import SourceTable

    assert iceberg_namespace("/wh", {"type": "rest", "uri": "https://cat.example:8181/"}) == "https://cat.example:8181"
    assert iceberg_namespace("/wh", {"warehouse": "s3://lake/wh", "uri": "x"}) == "s3://lake/wh"
    assert iceberg_namespace("/wh", {"uri": f"postgresql://u:{SECRET}@db:5432/cat"}) == "postgresql://db:5432/cat"
    assert iceberg_namespace("/wh", None) == "file:///wh"
    source = SourceTable("cassandra://10.0.0.1:9042", "ks", "t", (("id", "uuid"), ("tags", "frozen<set<text>>")))
    dataset = iceberg_dataset("/wh", None, "ks.t", source)
    assert (dataset.namespace, dataset.name) == ("file:///wh", "ks.t")
    assert [(f.name, f.type) for f in dataset.facets["schema"].fields] == list(source.columns)


def test_killed_before_connecting_never_connects(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_cassandra_bulk.operators.base import TaskKilled
    from airflow_provider_cassandra_bulk.operators.count import CassandraCountOperator

    # Nothing listens there: a connection attempt would fail with a connection error instead.
    monkeypatch.setenv(
        "AIRFLOW_CONN_CASSANDRA_BULK_DEFAULT",
        json.dumps({"conn_type": "cassandra_bulk", "host": "127.0.0.1", "port": 1}),
    )
    op = CassandraCountOperator(task_id="count", table="ks.tbl")
    op.on_kill()
    with pytest.raises(TaskKilled, match="before connecting"):
        op.execute({})
    assert op.hook._cluster is None


def test_load_operators_do_no_io_at_construction() -> None:
    from airflow_provider_cassandra_bulk.operators.load import (
        FilesToCassandraOperator,
        IcebergSnapshotOperator,
        IcebergToCassandraOperator,
    )

    kw: dict[str, Any] = {"table": "ks.tbl", "cassandra_conn_id": "does_not_exist"}
    ice = IcebergToCassandraOperator(task_id="a", warehouse="/nonexistent/wh", range_id="r1-of-8", **kw)
    files = FilesToCassandraOperator(task_id="b", source="s3://nowhere/x", **kw)
    IcebergSnapshotOperator(task_id="c", iceberg_table="ks.tbl", warehouse="/nonexistent/wh")
    assert ice.max_errors == files.max_errors == 0  # a restore fails on the first rejected record
    assert {"table", "range_id", "iceberg_table", "snapshot_id", "row_filter"} <= set(ice.template_fields)
    assert {"table", "range_id", "source", "file_format"} <= set(files.template_fields)
    ice.on_kill()  # nothing to shut down yet
    assert ice._killed


def test_restore_task_group_pins_one_snapshot_for_every_mapped_load() -> None:
    from airflow.sdk import DAG

    from airflow_provider_cassandra_bulk.task_group import iceberg_to_cassandra_task_group

    with DAG("tg", schedule=None) as dag:
        group = iceberg_to_cassandra_task_group(
            table="ks.tbl_restored", iceberg_table="ks.tbl", warehouse="/wh", splits=8, cassandra_conn_id="nope"
        )
    assert group.group_id == "restore_ks_tbl_restored"
    snapshot, plan, load = (dag.get_task(f"restore_ks_tbl_restored.{t}") for t in ("snapshot", "plan", "load_range"))
    assert snapshot.downstream_task_ids == {plan.task_id, load.task_id} and plan.downstream_task_ids == {load.task_id}
    assert load.partial_kwargs["iceberg_table"] == "ks.tbl" and load.partial_kwargs["table"] == "ks.tbl_restored"
    assert type(load.partial_kwargs["snapshot_id"]).__name__ == "PlainXComArg"
    assert load.partial_kwargs["cassandra_conn_id"] == "nope" and plan.splits == 8


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("None", None),
        (1795539885332, 1795539885332),
        ("1795539885332", 1795539885332),
        ("2026-11-24T00:00:00Z", 1795478400000),
        ("2026-11-24T01:00:00+01:00", 1795478400000),
        ("2026-11-24", 1795478400000),
    ],
)
def test_as_of_accepts_epoch_millis_and_iso_times(value: Any, expected: int | None) -> None:
    from airflow_provider_cassandra_bulk.operators.load import as_of_millis

    assert as_of_millis(value) == expected


def test_terminal_engine_errors_fail_the_task_without_retry() -> None:
    """A ConfigError (say, an Iceberg table made in another mode) can never pass on a retry: the task
    fails with AirflowFailException; a transient engine error is raised as is, for Airflow to retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_cassandra_bulk.operators.cassandra_bulk import CassandraToIcebergOperator
    from cassandra_bulk_core.errors import ConfigError
    from cassandra_bulk_core.scan import ScanFailed

    op = CassandraToIcebergOperator(task_id="a", table="ks.t", warehouse="/nonexistent/wh", range_id="r1-of-8")

    class _Hook:
        def close(self) -> None:
            pass

    op._hook = _Hook()  # type: ignore[assignment]
    with pytest.raises(AirflowFailException, match="not created in daily mode"), op._connected():
        raise ConfigError("Iceberg table ks.t was not created in daily mode")
    with pytest.raises(ScanFailed), op._connected():
        raise ScanFailed("reading ks.t failed after 5 attempt(s)")


def test_provider_info_imports_nothing_heavy() -> None:
    """Every Airflow process that discovers providers calls get_provider_info(): it must not pull
    the engine's dependencies (pyarrow, the driver, pyiceberg) — the version comes from metadata."""
    import subprocess
    import sys

    code = (
        "import sys; from airflow_provider_cassandra_bulk.get_provider_info import get_provider_info;"
        "get_provider_info(); heavy = {'pyarrow', 'cassandra', 'pyiceberg'} & {m.split('.')[0] for m in sys.modules};"
        "print(','.join(sorted(heavy)))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_connection_form_is_declared_in_provider_info_for_airflow_3_2_plus() -> None:
    """Airflow >= 3.2 builds the connection form from provider info, without the FAB widgets: the
    relabels, placeholders and every extra field must come through ProvidersManager."""
    from airflow.providers_manager import ProvidersManager

    from airflow_provider_cassandra_bulk.connection_form import EXTRA_FIELDS

    pm = ProvidersManager()
    behaviour = pm.field_behaviours["cassandra_bulk"]
    assert behaviour["relabeling"]["host"] == "Contact points"
    assert behaviour["placeholders"]["extra__cassandra_bulk__local_dc"] == "dc1"
    widgets = pm.connection_form_widgets
    for key, label in EXTRA_FIELDS.items():
        field = widgets[f"extra__cassandra_bulk__{key}"].field
        assert field["schema"]["title"] == label
    assert widgets["extra__cassandra_bulk__ssl_verify_hostname"].field["value"] is True


def test_prefixed_extras_from_the_new_form_are_read() -> None:
    from airflow.sdk import Connection

    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import config_from_connection

    conn = Connection(
        conn_id="x",
        conn_type="cassandra_bulk",
        host="10.0.0.1",
        extra='{"extra__cassandra_bulk__local_dc": "dc2", "consistency": "LOCAL_QUORUM"}',
    )
    config = config_from_connection(conn)
    assert config.local_dc == "dc2" and config.consistency == "LOCAL_QUORUM"


def test_lineage_of_a_catalog_configured_only_for_pyiceberg(monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalog named ``lake`` and defined in ``PYICEBERG_CATALOG__LAKE__*`` (as .pyiceberg.yaml would):
    the lineage namespace is its warehouse, not the operator's default ``warehouse`` directory, and no
    credential of it leaks."""
    from airflow_provider_cassandra_bulk.lineage import run_catalog_properties
    from airflow_provider_cassandra_bulk.operators.export import CassandraToIcebergOperator

    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__URI", "https://cat.example.com/api/catalog")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__WAREHOUSE", "s3://lake-bucket/wh")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__TOKEN", SECRET)
    op = CassandraToIcebergOperator(task_id="e", table="ks.t", catalog_name="lake")
    op._identifier = "ks.t"
    (output,) = op.get_openlineage_facets_on_complete(None).outputs
    assert (output.namespace, output.name) == ("s3://lake-bucket/wh", "ks.t")
    assert SECRET not in repr(output)
    # An unknown catalog name: lineage falls back to what was given, it does not fail the task.
    assert run_catalog_properties("nowhere", None, "/wh") is None
