"""The README demo's Dagster step: every range partition through the `dagster` CLI, then Iceberg's count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from examples.dagster.demo import run
from tests.conftest import connection_config
from tests.dagster.helpers import fill

pytestmark = pytest.mark.integration


def test_demo_materializes_every_range_and_returns_icebergs_count(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(session, keyspace, 250)
    config = connection_config(cassandra)
    assert run(config.contact_points[0], config.port, keyspace, "items", str(tmp_path / "wh")) == 250
    out = capsys.readouterr().out
    assert "materialized 16 of 16 range partitions" in out
    assert "reads 250 rows" in out


def test_demo_restore_loads_every_range_back_into_a_copy(
    cassandra: Any, session: Any, keyspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.dagster.demo import restore

    fill(session, keyspace, 180)
    config = connection_config(cassandra)
    host = config.contact_points[0]
    assert run(host, config.port, keyspace, "items", str(tmp_path / "wh")) == 180
    assert restore(host, config.port, keyspace, "items", str(tmp_path / "wh"), "items_restored") == (180, 180)
    out = capsys.readouterr().out
    assert f"loaded 16 of 16 range partitions into {keyspace}.items_restored" in out
    assert list((tmp_path / "logs").glob("load_*/summary.json"))
    source = sorted(tuple(r) for r in session.execute(f"SELECT * FROM {keyspace}.items"))
    assert sorted(tuple(r) for r in session.execute(f"SELECT * FROM {keyspace}.items_restored")) == source
