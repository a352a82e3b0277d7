"""The distribution's promises: entry points resolve, and the engine stays orchestrator-free."""

import subprocess
import sys
from importlib.metadata import entry_points


def test_airflow_provider_entry_point_returns_provider_info() -> None:
    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_cassandra")
    ]
    info = ep.load()()
    assert info["package-name"] == "cassandra-bulk"
    assert info["versions"]


def test_dagster_registry_module_entry_point_imports() -> None:
    (ep,) = [e for e in entry_points(group="dagster_dg_cli.registry_modules") if e.name == "dagster_cassandra_bulk"]
    module = ep.load()
    assert module.token_range_partitions(8).get_partition_keys()[0] == "r0-of-8"


def test_console_script_is_declared() -> None:
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "cassandra-bulk"]
    assert ep.value == "cassandra_bulk_core.cli:main"


def test_engine_imports_neither_dagster_nor_airflow() -> None:
    code = (
        "import sys, cassandra_bulk_core, cassandra_bulk_core.cli;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('dagster','airflow')];"
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, f"engine imported {res.stdout.strip()}"
