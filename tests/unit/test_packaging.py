"""The distribution's promises: entry points resolve, and the engine stays orchestrator-free."""

import subprocess
import sys
from importlib.metadata import entry_points
from typing import Any


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


def test_engine_package_root_is_lazy() -> None:
    """Issue "engine shape": the ring and the type tree import neither pyarrow nor the driver, and
    every exported name still resolves."""
    code = (
        "import sys, cassandra_bulk_core.ring, cassandra_bulk_core.types.tree;"
        "heavy = [m for m in ('pyarrow', 'cassandra', 'pyiceberg') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "", f"light imports pulled in {res.stdout.strip()}"
    names = subprocess.run(
        [sys.executable, "-c", "import cassandra_bulk_core as c; [getattr(c, n) for n in c.__all__]; print('ok')"],
        capture_output=True,
        text=True,
    )
    assert names.stdout.strip() == "ok", names.stderr


def test_iceberg_is_an_extra_and_asking_for_it_without_pyiceberg_says_what_to_install(
    monkeypatch: Any,
) -> None:
    """CSV/Parquet users do not install pyiceberg (the ``iceberg`` extra); without it, Iceberg work
    fails with one line naming the extra, not an ImportError traceback."""
    import importlib.util
    from pathlib import Path

    import pytest
    import tomllib

    from cassandra_bulk_core.errors import ConfigError
    from cassandra_bulk_core.iceberg.catalog import require_pyiceberg

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("pyiceberg") for d in project["dependencies"])
    assert any(d.startswith("pyiceberg") for d in project["optional-dependencies"]["iceberg"])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyiceberg" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'cassandra-bulk\[iceberg\]'"):
        require_pyiceberg()
