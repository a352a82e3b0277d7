"""The connection's password never reaches XComs, rendered templates or task logs, on a run that
succeeds and on one that fails (error paths log the most)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import pytest

from tests.airflow.conftest import load_example

pytestmark = pytest.mark.integration


def _stored_for(dag_id: str) -> list[str]:
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


def _log_files() -> str:
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""


def test_password_never_in_xcoms_rendered_fields_or_logs(
    airflow_db: Path,
    secret_conn: str,
    kv: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    warehouse = str(tmp_path / "wh")
    module = load_example("cassandra_to_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=4)
    ok = module.dag.test(logical_date=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc))
    assert ok.state == "success"
    stored = _stored_for(module.dag.dag_id)
    assert len(stored) >= 4 + 2  # the plan's, every range's and verify's XComs, plus rendered fields
    assert any("r3-of-4" in value for value in stored)  # the scan saw real values

    # A failing run: the table does not exist, every export logs its error (no retries, to be quick).
    broken = load_example("cassandra_to_iceberg", monkeypatch, table=kv + "_missing", warehouse=warehouse, splits=4)
    for task in broken.dag.tasks:
        if hasattr(task, "partial_kwargs"):
            task.partial_kwargs["retries"] = 0
        else:
            task.retries = 0
    failed = broken.dag.test(logical_date=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc))
    assert failed.state == "failed"

    out, err = capfd.readouterr()
    logs = caplog.text + out + err + _log_files()
    assert "does not exist" in logs and "r3-of-4" in logs  # the capture holds the tasks' own log lines
    everything = "\n".join(_stored_for(module.dag.dag_id)) + logs
    assert secret_conn not in everything
