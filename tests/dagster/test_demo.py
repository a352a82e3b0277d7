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
