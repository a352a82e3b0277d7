"""The component through the real ``dg`` CLI (subprocess): registry, scaffold, YAML and defs checks.

Loading definitions never connects (resources are initialized by runs), so only the last test, a
``dg launch`` of the YAML component, needs the Cassandra node.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parents[2]
EXAMPLE = REPO / "examples" / "dagster"
COMPONENT = "dagster_cassandra_bulk.CassandraIcebergComponent"
DG = str(Path(sys.executable).with_name("dg"))


def dg(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DG, *args],
        cwd=cwd,
        env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty dg project (``dg.toml`` + a root module with a defs folder), using this environment."""
    root = tmp_path / "proj"
    package = root / "cb_proj"
    (package / "defs").mkdir(parents=True)
    (root / "dg.toml").write_text('directory_type = "project"\n\n[project]\nroot_module = "cb_proj"\n')
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    shutil.copy(EXAMPLE / "cassandra_bulk_example" / "definitions.py", package / "definitions.py")
    return root


def test_component_is_registered_through_the_dg_entry_point(tmp_path: Path) -> None:
    (ep,) = [e for e in entry_points(group="dagster_dg_cli.registry_modules") if e.name == "dagster_cassandra_bulk"]
    assert ep.value == "dagster_cassandra_bulk"
    res = dg("list", "components", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    listed = {c["key"] for c in json.loads(res.stdout)["items"]}
    assert COMPONENT in listed


def test_dg_scaffold_then_check_and_list_defs(project: Path) -> None:
    res = dg("scaffold", "defs", COMPONENT, "orders", "--keyspace", "shop", "--table", "orders", cwd=project)
    assert res.returncode == 0, res.stderr[-2000:]
    defs_yaml = project / "cb_proj" / "defs" / "orders" / "defs.yaml"
    scaffolded = yaml.safe_load(defs_yaml.read_text())
    assert scaffolded["type"] == COMPONENT
    assert scaffolded["attributes"]["tables"] == [{"keyspace": "shop", "table": "orders"}]
    assert scaffolded["attributes"]["cassandra"]["password_env_var"] == "CASSANDRA_PASSWORD"

    for check in (("check", "yaml"), ("check", "defs")):
        res = dg(*check, cwd=project)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    listed = json.loads(dg("list", "defs", "--json", cwd=project).stdout)
    assert [a["asset_key"] for a in listed["assets"]] == ["shop/orders"]
    assert set(listed["assets"][0]["kinds"]) == {"cassandra", "iceberg"}
    assert {c["name"] for c in listed["asset_checks"]} == {"row_counts_match", "schema_matches"}
    assert {r["name"] for r in listed["resources"]} == {"cassandra", "iceberg"}


@pytest.mark.parametrize(
    ("attribute", "value", "command"),
    [
        ("splitz", 8, ("check", "yaml")),  # unknown attribute: the schema check catches it before loading
        # any scalar may be a "{{ template }}" string, so types are checked when the defs are built
        ("splits", "many", ("check", "defs")),
        ("mode", "append", ("check", "defs")),  # not one of mirror/daily
        ("ranges_per_run", 0, ("check", "defs")),
    ],
)
def test_dg_checks_reject_a_bad_defs_yaml(
    project: Path, attribute: str, value: object, command: tuple[str, ...]
) -> None:
    folder = project / "cb_proj" / "defs" / "bad"
    folder.mkdir()
    attributes = {"tables": [{"keyspace": "shop", "table": "orders"}], attribute: value}
    (folder / "defs.yaml").write_text(yaml.safe_dump({"type": COMPONENT, "attributes": attributes}))
    res = dg(*command, cwd=project)
    assert res.returncode != 0
    assert attribute in res.stdout + res.stderr


def test_example_project_validates_with_dg() -> None:
    for check in (("check", "yaml"), ("check", "defs")):
        res = dg(*check, cwd=EXAMPLE)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    listed = json.loads(dg("list", "defs", "--json", cwd=EXAMPLE).stdout)
    assert sorted(a["asset_key"] for a in listed["assets"]) == [
        "cassandra/demo/events_restored",
        "demo/events",
        "demo/events_daily",
    ]
    restored = next(a for a in listed["assets"] if a["asset_key"] == "cassandra/demo/events_restored")
    assert set(restored["kinds"]) == {"iceberg", "cassandra"}
    assert len(listed["asset_checks"]) == 4
    assert sorted(s["name"] for s in listed["schedules"]) == ["demo__events__nightly", "demo__events_daily__nightly"]


@pytest.mark.integration
def test_dg_launch_materializes_a_partition_range_of_the_yaml_component(
    cassandra: Any, session: Any, keyspace: str, project: Path, tmp_path: Path
) -> None:
    """YAML → definitions → ``dg launch --partition-range``: one run (``ranges_per_run: all``), every range;
    then the YAML ``loads`` entry the same way, back into a copy of the table."""
    from cassandra_bulk_core.iceberg import iceberg_range_counts
    from tests.conftest import connection_config
    from tests.dagster.helpers import cassandra_range_counts, fill, iceberg_table

    fill(session, keyspace, 120)
    config = connection_config(cassandra)
    folder = project / "cb_proj" / "defs" / "items"
    folder.mkdir()
    attributes = {
        "cassandra": {
            "contact_points": list(config.contact_points),
            "port": config.port,
            "username": "{{ env('CB_TEST_USERNAME', '') }}",
            "password_env_var": "CB_TEST_PASSWORD",
        },
        "catalog": {"warehouse": str(tmp_path / "wh")},
        "splits": 4,
        "ranges_per_run": "all",
        "tables": [{"keyspace": keyspace, "table": "items"}],
        "loads": [{"keyspace": keyspace, "table": "items_copy", "from_table": f"{keyspace}.items"}],
        "log_dir": str(tmp_path / "logs"),
    }
    session.execute(f"CREATE TABLE {keyspace}.items_copy (id int PRIMARY KEY, name text, price double)")
    (folder / "defs.yaml").write_text(yaml.safe_dump({"type": COMPONENT, "attributes": attributes}))
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "DAGSTER_HOME": str(home),
        "CB_TEST_USERNAME": config.username or "",
        "CB_TEST_PASSWORD": config.password or "unused-without-auth",
    }
    res = dg("launch", "--assets", f"{keyspace}/items", "--partition-range", "r0-of-4...r3-of-4", cwd=project, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    expected = cassandra_range_counts(cassandra, keyspace, "items", 4)
    assert iceberg_range_counts(iceberg_table(tmp_path / "wh", f"{keyspace}.items")) == expected
    assert sum(expected.values()) == 120

    res = dg(
        "launch",
        "--assets",
        f"cassandra/{keyspace}/items_copy",
        "--partition-range",
        "r0-of-4...r3-of-4",
        cwd=project,
        env=env,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    copied = sorted(tuple(r) for r in session.execute(f"SELECT * FROM {keyspace}.items_copy"))
    assert copied == sorted(tuple(r) for r in session.execute(f"SELECT * FROM {keyspace}.items"))
    assert len(list((tmp_path / "logs").glob("load_*/summary.json"))) == 4  # one load per range
