"""The password, the TLS files and the encrypted key's pass phrase given the other ways the issue
lists ("Faults and security": password by config / Airflow connection / Dagster ``EnvVar``), each
against the security node (127.0.0.54: PasswordAuthenticator, mutual TLS, an encrypted client key),
each exporting ``sec.kv`` exactly, then a scan of everything those runs left for the secrets:

- the CLI's ``-f`` TOML file (keys named like the options: ``ssl-ca``, ``ssl-key-password``...);
- an Airflow connection ``AIRFLOW_CONN_CB_FAULTS_TLS`` (JSON, TLS settings and the pass phrase in
  its extras), used by the provider's task group and files operator in ``dag.test()``;
- a Dagster ``CassandraResource`` whose password and pass phrase are ``EnvVar``s, materialized with
  ``materialize()`` (all ranges in one run, then the row-count checks).

The scans reuse ``test_security.py``'s secrets (password, key pass phrase, a piece of every private
key); the files that hold a secret on purpose (the TOML file, the password file) are left out.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

# First: a throw-away AIRFLOW_HOME before anything imports airflow (a run of only this directory
# does not load tests/airflow's conftest otherwise); its session fixtures are reused below.
from tests.airflow.conftest import _airflow_home, airflow_db  # noqa: F401 - fixtures for this module
from tests.faults.conftest import (
    TLS_ADDRESS,
    TLS_ROWS,
    cli,
    secret_leaks,
    tls_secrets,
)

EXPECTED = {(k, f"v{k}") for k in range(TLS_ROWS)}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin closed and no ``CASSANDRA_*`` variable: everything comes from the file."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CASSANDRA_")}
    full_env.update(env or {})
    return subprocess.run(
        cli(*args), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, env=full_env
    )


def _parquet_rows(directory: Path) -> list[tuple[int, str]]:
    import pyarrow.parquet as pq

    rows: list[tuple[int, str]] = []
    for part in sorted(directory.rglob("*.parquet")):
        table = pq.read_table(part)
        rows += list(zip(table.column("k").to_pylist(), table.column("v").to_pylist(), strict=True))
    return rows


def _csv_rows(directory: Path) -> list[tuple[int, str]]:
    import csv

    rows: list[tuple[int, str]] = []
    for part in sorted(directory.rglob("*.csv")):
        with part.open(newline="") as f:
            rows += [(int(r["k"]), r["v"]) for r in csv.DictReader(f)]
    return rows


def _iceberg_rows(warehouse: Path, identifier: str = "sec.kv") -> list[tuple[int, str]]:
    from cassandra_bulk_core.iceberg import IcebergOptions, load_catalog

    data = load_catalog(IcebergOptions(warehouse=str(warehouse))).load_table(identifier).scan().to_arrow()
    return list(zip(data.column("k").to_pylist(), data.column("v").to_pylist(), strict=True))


def _exact(rows: list[tuple[int, str]]) -> None:
    assert len(rows) == TLS_ROWS and set(rows) == EXPECTED


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def test_the_cli_config_file_carries_password_tls_files_and_the_key_pass_phrase(
    tls_node: dict[str, Any], tmp_path: Path
) -> None:
    """``-f job.toml`` with every connection setting, keyed by option name; a second file names a
    password file instead and exports to Iceberg. No flag, no environment variable."""
    files = tls_node["files"]
    common = (
        f"host = {_toml(TLS_ADDRESS)}\nusername = {_toml(tls_node['user'])}\nssl = true\n"
        f"ssl-ca = {_toml(str(files.ca))}\nssl-cert = {_toml(str(files.client_cert))}\n"
        f"ssl-key = {_toml(str(files.client_key_encrypted))}\n"
        f"ssl-key-password = {_toml(tls_node['key_password'])}\n"
    )
    secret_files = [tmp_path / "job.toml", tmp_path / "job-iceberg.toml", tmp_path / "pw"]
    secret_files[0].write_text(
        common + f'password = {_toml(tls_node["password"])}\n[export]\nsplits = 4\nformat = "parquet"\n'
    )
    secret_files[2].write_text(tls_node["password"] + "\n")
    secret_files[1].write_text(
        common + f"password-file = {_toml(str(secret_files[2]))}\n"
        f'[export]\nsplits = 4\nto = "iceberg"\nwarehouse = {_toml(str(tmp_path / "wh"))}\n'
    )
    out = tmp_path / "out"
    by_file = _cli("-f", str(secret_files[0]), "export", "-t", "sec.kv", "--url", str(out), "--log-json",
                   "--no-progress", "--progress-file", str(tmp_path / "progress.json"))  # fmt: skip
    assert by_file.returncode == 0, by_file.stderr[-1500:]
    _exact(_parquet_rows(out))
    to_iceberg = _cli("-f", str(secret_files[1]), "export", "-t", "sec.kv", "--log-json", "--no-progress")
    assert to_iceberg.returncode == 0, to_iceberg.stderr[-1500:]
    _exact(_iceberg_rows(tmp_path / "wh"))
    artefacts = [p for p in tmp_path.rglob("*") if p.is_file() and p not in secret_files]
    assert {".parquet", ".json", ".db"} <= {p.suffix for p in artefacts}
    outputs = [by_file.stdout, by_file.stderr, to_iceberg.stdout, to_iceberg.stderr]
    assert not secret_leaks(tls_node, artefacts, outputs)


AIRFLOW_CONN_ID = "cb_faults_tls"

AIRFLOW_DAG = '''\
"""cassandra-bulk fault suite: the provider's task group and files operator over one connection."""
import datetime as dt
import os

from airflow.sdk import DAG

from airflow_provider_cassandra_bulk.operators.export import CassandraToFilesOperator
from airflow_provider_cassandra_bulk.task_group import cassandra_to_iceberg_task_group

with DAG(
    "cb_faults_tls", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), catchup=False,
    default_args={"retries": 0},
) as dag:
    conn = os.environ["CB_FAULTS_CONN_ID"]
    cassandra_to_iceberg_task_group(
        table="sec.kv", warehouse=os.environ["CB_FAULTS_WAREHOUSE"], splits=4, cassandra_conn_id=conn
    )
    CassandraToFilesOperator(
        task_id="to_csv", table="sec.kv", destination=os.environ["CB_FAULTS_FILES"], file_format="csv",
        splits=4, cassandra_conn_id=conn,
    )
'''


def _airflow_stored(dag_id: str) -> list[str]:
    """Every XCom value and rendered template field the metadata DB holds for ``dag_id``."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    with Session() as s:
        xcoms = [json.dumps(x.value, default=str) for x in s.query(XComModel).filter(XComModel.dag_id == dag_id)]
        rendered = [
            json.dumps(r.rendered_fields, default=str)
            for r in s.query(RenderedTaskInstanceFields).filter(RenderedTaskInstanceFields.dag_id == dag_id)
        ]
    return xcoms + rendered


def _run_dag_over(
    connection: dict[str, Any],
    conn_id: str,
    dag_id: str,
    day: int,
    tls_node: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``connection`` as ``AIRFLOW_CONN_<conn_id>``: the hook's ``test_connection``, then
    ``dag.test()`` of :data:`AIRFLOW_DAG` (as ``dag_id``) over it: exact rows in Iceberg and CSV, and
    no secret in the metadata DB, ``AIRFLOW_HOME``, the outputs or anything logged or printed."""
    from airflow_provider_cassandra_bulk.hooks.cassandra_bulk import CassandraBulkHook

    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    ok, message = CassandraBulkHook(conn_id).test_connection()
    assert ok, message

    warehouse, destination = tmp_path / "wh", tmp_path / "csv"
    monkeypatch.setenv("CB_FAULTS_CONN_ID", conn_id)
    monkeypatch.setenv("CB_FAULTS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CB_FAULTS_FILES", str(destination))
    caplog.set_level(logging.DEBUG)
    dag_file = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / f"{dag_id}.py"
    dag_file.write_text(AIRFLOW_DAG.replace('"cb_faults_tls"', f'"{dag_id}"'))
    spec = importlib.util.spec_from_file_location(dag_id, dag_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.dag.test(logical_date=dt.datetime(2026, 11, day, tzinfo=dt.timezone.utc))
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert len([k for k in states if k[0].endswith("export_range")]) == 4
    _exact(_iceberg_rows(warehouse))
    _exact(_csv_rows(destination))

    stored = _airflow_stored(dag_id)
    assert any('"rows"' in value for value in stored)  # the exports' XComs were read, not nothing
    out, err = capfd.readouterr()
    home = Path(os.environ["AIRFLOW_HOME"])
    artefacts = [p for p in [*home.rglob("*"), *tmp_path.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".db" for p in artefacts)  # the metadata DB itself, byte for byte
    assert not secret_leaks(tls_node, artefacts, [*stored, caplog.text, out, err, message])


@pytest.mark.usefixtures("airflow_db")
def test_an_airflow_connection_with_tls_extras_exports_exactly_and_leaks_nothing(
    tls_node: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``AIRFLOW_CONN_CB_FAULTS_TLS`` (JSON): login/password, TLS CA, client certificate, the
    encrypted key and its pass phrase in the extras. The hook's ``test_connection``, then
    ``dag.test()`` of plan → 4 mapped Iceberg exports → verify, and a CSV export."""

    files = tls_node["files"]
    connection = {
        "conn_type": "cassandra_bulk", "host": TLS_ADDRESS, "port": 9042,
        "login": tls_node["user"], "password": tls_node["password"],
        "extra": {
            "ssl": True, "ssl_ca": str(files.ca), "ssl_cert": str(files.client_cert),
            "ssl_key": str(files.client_key_encrypted), "ssl_key_password": tls_node["key_password"],
        },
    }  # fmt: skip
    _run_dag_over(connection, AIRFLOW_CONN_ID, "cb_faults_tls", 24, tls_node, tmp_path, monkeypatch, caplog, capfd)


def test_a_dagster_resource_with_env_vars_exports_exactly_and_leaks_nothing(
    tls_node: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``CassandraResource(password=EnvVar(..), ssl_key_password=EnvVar(..), ...)``: one run over
    every range partition, then the row-count and schema checks, on a local instance whose whole
    directory (run and event-log databases, captured logs) is scanned afterwards."""
    from dagster import AssetSelection, EnvVar, instance_for_test, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dagster_cassandra_bulk import (
        CassandraResource,
        CassandraTable,
        IcebergCatalogResource,
        build_cassandra_iceberg_asset,
        build_cassandra_iceberg_checks,
    )
    from tests.dagster.helpers import assert_secret_nowhere

    files = tls_node["files"]
    monkeypatch.setenv("CB_FAULTS_PASSWORD", tls_node["password"])
    monkeypatch.setenv("CB_FAULTS_KEY_PASSWORD", tls_node["key_password"])
    resources = {
        "cassandra": CassandraResource(
            contact_points=[TLS_ADDRESS], username=tls_node["user"], password=EnvVar("CB_FAULTS_PASSWORD"),
            ssl_enabled=True, ssl_ca_file=str(files.ca), ssl_cert_file=str(files.client_cert),
            ssl_key_file=str(files.client_key_encrypted), ssl_key_password=EnvVar("CB_FAULTS_KEY_PASSWORD"),
        ),
        "iceberg": IcebergCatalogResource(warehouse=str(tmp_path / "wh")),
    }  # fmt: skip
    table = CassandraTable("sec", "kv", splits=4)
    asset = build_cassandra_iceberg_asset(table, retry_policy=None)
    checks = build_cassandra_iceberg_checks(table)
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as instance:
        tags = {ASSET_PARTITION_RANGE_START_TAG: "r0-of-4", ASSET_PARTITION_RANGE_END_TAG: "r3-of-4"}
        result = materialize([asset], resources=resources, instance=instance, tags=tags)
        assert result.success
        _exact(_iceberg_rows(tmp_path / "wh"))
        checked = materialize(
            [asset, *checks], resources=resources, instance=instance, selection=AssetSelection.all_asset_checks()
        )
        evaluations = checked.get_asset_check_evaluations()
        assert evaluations and all(e.passed for e in evaluations), evaluations
        for secret in tls_secrets(tls_node).values():
            assert assert_secret_nowhere(secret, instance, home) > 10
    artefacts = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not secret_leaks(tls_node, artefacts, [caplog.text])


@pytest.mark.usefixtures("airflow_db")
def test_airflows_standard_cassandra_connection_with_ssl_options_exports_exactly(
    tls_node: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The apache-cassandra provider's own connection type (``conn_type: cassandra``): TLS from its
    ``ssl_options`` (``ca_certs``, ``certfile``, ``keyfile``: the encrypted key) and its
    ``load_balancing_policy_args``, the key's pass phrase as our extra next to them. The same DAG as
    above runs over it; then the same scan for secrets."""

    files = tls_node["files"]
    connection = {
        "conn_type": "cassandra", "host": TLS_ADDRESS, "port": 9042,
        "login": tls_node["user"], "password": tls_node["password"],
        "extra": {
            "ssl_options": {
                "ca_certs": str(files.ca), "certfile": str(files.client_cert),
                "keyfile": str(files.client_key_encrypted),
            },
            "load_balancing_policy": "DCAwareRoundRobinPolicy",
            "load_balancing_policy_args": {"local_dc": "datacenter1"},
            "ssl_key_password": tls_node["key_password"],
        },
    }  # fmt: skip
    _run_dag_over(
        connection, "cb_faults_tls_std", "cb_faults_tls_std", 25, tls_node, tmp_path, monkeypatch, caplog, capfd
    )


def test_a_dagster_component_with_tls_in_defs_yaml_exports_exactly(
    tls_node: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``defs.yaml`` as a user writes it: contact point, user, TLS files, the password and the
    key's pass phrase by variable name only. Its code location is built by Dagster's component
    loader and every range partition materialized; the rows are exact and no secret is anywhere
    under the run's directory or in the captured logs."""
    import yaml
    from dagster import instance_for_test
    from dagster.components.testing import create_defs_folder_sandbox

    from dagster_cassandra_bulk import CassandraIcebergComponent

    files = tls_node["files"]
    monkeypatch.setenv("CB_FAULTS_PASSWORD", tls_node["password"])
    monkeypatch.setenv("CB_FAULTS_KEY_PASSWORD", tls_node["key_password"])
    defs_yaml = f"""
type: dagster_cassandra_bulk.CassandraIcebergComponent
attributes:
  cassandra:
    contact_points: ["{TLS_ADDRESS}"]
    username: {tls_node["user"]}
    password_env_var: CB_FAULTS_PASSWORD
    ssl_enabled: true
    ssl_ca_file: {files.ca}
    ssl_cert_file: {files.client_cert}
    ssl_key_file: {files.client_key_encrypted}
    ssl_key_password_env_var: CB_FAULTS_KEY_PASSWORD
  catalog:
    warehouse: {tmp_path / "wh"}
  splits: 4
  tables:
    - keyspace: sec
      table: kv
"""
    assert tls_node["password"] not in defs_yaml and tls_node["key_password"] not in defs_yaml
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with create_defs_folder_sandbox() as sandbox:
        defs_path = sandbox.scaffold_component(CassandraIcebergComponent, defs_yaml_contents=yaml.safe_load(defs_yaml))
        with (
            sandbox.load_component_and_build_defs(defs_path=defs_path) as (_loaded, defs),
            instance_for_test(temp_dir=str(home)) as instance,
        ):
            job = defs.resolve_implicit_global_asset_job_def()
            for key in (f"r{i}-of-4" for i in range(4)):
                assert job.execute_in_process(partition_key=key, instance=instance).success
    _exact(_iceberg_rows(tmp_path / "wh"))
    artefacts = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in artefacts)  # the instance's run and event-log storage
    assert not secret_leaks(tls_node, artefacts, [caplog.text])
