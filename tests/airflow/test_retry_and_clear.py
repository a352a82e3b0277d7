"""Airflow's per-range recovery on the real node: a mapped instance that fails once succeeds on its
retry without duplicating rows, and clearing one map index re-exports that range and nothing else.

How retries run under ``dag.test()`` (Airflow 3.3): its loop is a miniature scheduler. A task that
fails with retries left goes to ``up_for_retry``; each pass asks ``DagRun.update_state`` for
schedulable instances, which includes an ``up_for_retry`` one once its ``retry_delay`` has passed,
bumps ``try_number`` and runs it again in-process. So no second manual run is needed; these DAGs
use ``retry_delay=0`` to keep the test fast (with the example's 30 s the loop just sleeps).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.conftest import ROWS, cassandra_rows, iceberg_table, load_example, task_instances

pytestmark = pytest.mark.integration

DAY = dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
FAILING = "r2-of-4"


def _no_retry_delay(dag: Any) -> None:
    """The example waits 30 s between tries; the test does not (in-memory DAG, used by dag.test)."""
    for task in dag.tasks:
        if hasattr(task, "partial_kwargs"):  # the mapped export
            task.partial_kwargs["retry_delay"] = dt.timedelta(0)
        else:
            task.retry_delay = dt.timedelta(0)


def _range_commits(table: Any) -> Counter[str]:
    """How many export operations committed each range id (one commit's delete and append may be
    two snapshots; both carry the operation id)."""
    ops = {
        (s.summary.get("cassandra-bulk.ranges"), s.summary.get("cassandra-bulk.operation-id"))
        for s in table.snapshots()
        if s.summary and s.summary.get("cassandra-bulk.ranges")
    }
    return Counter(rid for rid, _ in ops)


def _files_by_range(table: Any) -> dict[str, set[str]]:
    """The current snapshot's data files, by ``_cb_range`` partition."""
    out: dict[str, set[str]] = {}
    for row in table.inspect.files().select(["file_path", "partition"]).to_pylist():
        out.setdefault(row["partition"]["_cb_range"], set()).add(row["file_path"])
    return out


def _keys(table: Any) -> list[int]:
    return table.scan(selected_fields=("k",)).to_arrow().column("k").to_pylist()


def test_failed_instance_succeeds_on_retry_then_clearing_one_index_redoes_only_that_range(
    airflow_db: Path, airflow_conn: Any, kv: str, session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cassandra_bulk_core.iceberg as engine_iceberg

    warehouse = str(tmp_path / "wh")
    module = load_example("cassandra_to_iceberg", monkeypatch, table=kv, warehouse=warehouse, splits=4)
    _no_retry_delay(module.dag)

    # Fault injection: the first attempt at FAILING commits its rows to Iceberg, then dies (the
    # worst moment: a retry that appended would now duplicate every row of the range).
    real_export = engine_iceberg.export_to_iceberg
    attempts: Counter[str] = Counter()

    def flaky_export(*args: Any, **kwargs: Any) -> Any:
        options = args[3]
        result = real_export(*args, **kwargs)
        key = ",".join(options.only_ranges or ())
        attempts[key] += 1
        if key == FAILING and attempts[key] == 1:
            raise RuntimeError(f"injected failure after {key} was committed")
        return result

    monkeypatch.setattr(engine_iceberg, "export_to_iceberg", flaky_export)
    run = module.dag.test(logical_date=DAY)
    tis = task_instances(run)
    assert run.state == "success", {k: (ti.state, ti.try_number) for k, ti in tis.items()}
    exports = {ti.rendered_map_index: ti for (task, _), ti in tis.items() if task == "export_range"}
    assert len(exports) == 4
    assert exports[FAILING].try_number == 2 and exports[FAILING].state == "success"
    assert all(ti.try_number == 1 for rid, ti in exports.items() if rid != FAILING)
    assert attempts[FAILING] == 2 and tis[("verify", -1)].state == "success"

    table = iceberg_table(warehouse, kv)
    keys = _keys(table)
    assert len(keys) == len(set(keys)) == cassandra_rows(session, kv) == ROWS  # no duplicates
    assert _range_commits(table)[FAILING] == 2  # both attempts committed; the retry replaced the first

    # Clear one map index (and its downstream verify), as the UI's "Clear" does, and let the
    # scheduler loop run them again: only that range is exported and committed again.
    before_files = _files_by_range(table)
    before_snapshots = {s.snapshot_id for s in table.snapshots()}
    cleared = _clear_and_rerun(module.dag, run, [("export_range", exports["r1-of-4"].map_index), ("verify", -1)])
    assert cleared.state == "success"
    table = iceberg_table(warehouse, kv)
    new = [s for s in table.snapshots() if s.snapshot_id not in before_snapshots]
    assert {s.summary.get("cassandra-bulk.ranges") for s in new} == {"r1-of-4"}
    assert len({s.summary.get("cassandra-bulk.operation-id") for s in new}) == 1
    after_files = _files_by_range(table)
    assert set(after_files) == set(before_files)
    for rid, files in after_files.items():
        if rid == "r1-of-4":
            assert files.isdisjoint(before_files[rid])  # its files were replaced
        else:
            assert files == before_files[rid]  # every other range untouched
    keys = _keys(table)
    assert len(keys) == len(set(keys)) == ROWS


def _clear_and_rerun(dag: Any, run: Any, which: list[tuple[str, int]]) -> Any:
    """``clear_task_instances`` (what the UI/API clear calls), then the same loop as ``dag.test()``
    until the run finishes again (dag.test itself would clear and redo the whole run)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk import DagRunState, TaskInstanceState
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.settings import Session

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    with Session() as s:
        dr = s.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.run_id == run.run_id).one()
        clear_task_instances([ti for ti in dr.get_task_instances(session=s) if (ti.task_id, ti.map_index) in which], s)
        dr.state = DagRunState.RUNNING
        s.commit()
        dr.dag = scheduler_dag
        for _ in range(100):
            if dr.state != DagRunState.RUNNING:
                break
            s.expire_all()
            schedulable, _ = dr.update_state(session=s)
            for ti in schedulable:
                ti.try_number += 1
                ti.state = TaskInstanceState.SCHEDULED
            s.commit()
            for ti in dr.get_task_instances(session=s):
                if ti.state == TaskInstanceState.SCHEDULED:
                    _run_task(ti=ti, task=dag.task_dict[ti.task_id])
        ran = {(ti.task_id, ti.map_index): ti.try_number for ti in dr.get_task_instances(session=s)}
        # Only the cleared instances ran again (plus the one that had already retried).
        failing = {
            ("export_range", ti.map_index)
            for ti in dr.get_task_instances(session=s)
            if ti.rendered_map_index == FAILING
        }
        assert {k for k, n in ran.items() if n > 1} == set(which) | failing, ran
        return dr
