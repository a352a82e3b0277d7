"""Backfills through Dagster's own CLI, in a test instance (temporary DAGSTER_HOME), no daemon.

Two shapes work without a daemon in Dagster 1.13:

* ``dagster job backfill -j <job> --from a --to b --noprompt``: one run per partition (the
  default, one run per token range). Runs are submitted through the instance's run coordinator;
  with ``DefaultRunCoordinator`` each is launched at once by the CLI's code server, which waits for
  them before it exits. (The default ``QueuedRunCoordinator`` would leave them queued for the
  daemon.)
* ``dagster asset materialize --partition-range a...b``: one in-process run for the whole range;
  Dagster accepts it only for assets with ``BackfillPolicy.single_run()``.

``BackfillPolicy.multi_run(k)`` batches are formed by the asset backfill daemon (UI or
``dagster dev``); the in-process test of a several-range run is in test_integration.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from cassandra_bulk_core.iceberg import iceberg_range_counts
from tests.conftest import connection_config
from tests.dagster.helpers import assert_secret_nowhere, cassandra_range_counts, fill, iceberg_rows, iceberg_table

pytestmark = pytest.mark.integration

CLI_DEFS = Path(__file__).with_name("cli_defs.py")
DAGSTER = str(Path(sys.executable).with_name("dagster"))
DAGSTER_YAML = """\
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def _env(target: Any, keyspace: str, tmp_path: Path, secret: str, backfill: str, splits: int) -> dict[str, str]:
    config = connection_config(target)
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "CB_TEST_KEYSPACE": keyspace,
        "CB_TEST_SPLITS": str(splits),
        "CB_TEST_BACKFILL": backfill,
        "CB_TEST_CONTACT_POINTS": ",".join(config.contact_points),
        "CB_TEST_PORT": str(config.port),
        "CB_TEST_LOCAL_DC": config.local_dc or "",
        "CB_TEST_USERNAME": config.username or "etl",
        # auth is off on the test node, so any password is accepted; it must still leak nowhere
        "CB_TEST_PASSWORD": config.password or secret,
        "CB_TEST_WAREHOUSE": str(tmp_path / "wh"),
    }


def _dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAGSTER, *args, "-f", str(CLI_DEFS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        cwd=Path(__file__).parents[2],
    )


def _wait_for_runs(instance: DagsterInstance, expected: int, timeout: float = 200) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        runs = instance.get_runs()
        if len(runs) >= expected and all(r.is_finished for r in runs):
            return list(runs)
        assert time.monotonic() < deadline, [(r.tags.get("dagster/partition"), r.status) for r in runs]
        time.sleep(2)


def test_job_backfill_runs_one_run_per_range(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    fill(session, keyspace, rows=400)
    secret = f"pw-{uuid.uuid4().hex}"
    env = _env(cassandra, keyspace, tmp_path, secret, backfill="per_range", splits=4)
    env["CB_TEST_FAIL_ONCE"] = "r1-of-4"  # its run worker's first commit fails; the retry policy re-runs it
    res = _dagster(env, "job", "backfill", "-j", "items_job", "--from", "r0-of-4", "--to", "r3-of-4", "--noprompt")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Launched backfill job" in res.stdout

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = _wait_for_runs(instance, 4)
        (backfill,) = instance.get_backfills()
        assert {r.tags["dagster/backfill"] for r in runs} == {backfill.backfill_id}
        assert sorted(r.tags["dagster/partition"] for r in runs) == [f"r{i}-of-4" for i in range(4)]
        assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 4
        assert len(instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))) == 4
        retried = {
            r.tags["dagster/partition"]: [
                e.dagster_event.event_type_value
                for e in instance.all_logs(r.run_id)
                if e.dagster_event is not None and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
            ]
            for r in runs
        }
        assert retried == {"r0-of-4": [], "r1-of-4": ["STEP_UP_FOR_RETRY"], "r2-of-4": [], "r3-of-4": []}
        assert (tmp_path / "failed-once").exists()
        if not connection_config(cassandra).password:
            assert_secret_nowhere(secret, instance, Path(env["DAGSTER_HOME"]))

    identifier = f"{keyspace}.items"
    expected = cassandra_range_counts(cassandra, keyspace, "items", 4)
    assert iceberg_range_counts(iceberg_table(tmp_path / "wh", identifier)) == expected
    ids = [r["id"] for r in iceberg_rows(tmp_path / "wh", identifier)]
    assert len(ids) == len(set(ids)) == sum(expected.values()) == 400


def test_materialize_partition_range_in_one_run(cassandra: Any, session: Any, keyspace: str, tmp_path: Path) -> None:
    fill(session, keyspace, rows=300)
    secret = f"pw-{uuid.uuid4().hex}"
    select = ("asset", "materialize", "--select", f"{keyspace}/items", "--partition-range", "r0-of-8...r7-of-8")

    per_range = _env(cassandra, keyspace, tmp_path, secret, backfill="per_range", splits=8)
    refused = _dagster(per_range, *select)
    assert refused.returncode != 0 and "single_run" in refused.stdout + refused.stderr

    env = _env(cassandra, keyspace, tmp_path, secret, backfill="single_run", splits=8)
    res = _dagster(env, *select)
    assert res.returncode == 0, res.stderr[-3000:]
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.tags["dagster/asset_partition_range_start"] == "r0-of-8"
        records = instance.fetch_materializations(_asset_key(keyspace), limit=100).records
        events = [r.asset_materialization for r in records if r.asset_materialization is not None]
        # one event per partition, each with its own range's row count
        rows = {e.partition: e.metadata["dagster/row_count"].value for e in events}
        assert rows == cassandra_range_counts(cassandra, keyspace, "items", 8)
        assert sum(rows.values()) == 300
        if not connection_config(cassandra).password:
            assert_secret_nowhere(secret, instance, Path(env["DAGSTER_HOME"]))
    identifier = f"{keyspace}.items"
    expected = cassandra_range_counts(cassandra, keyspace, "items", 8)
    assert iceberg_range_counts(iceberg_table(tmp_path / "wh", identifier)) == expected
    ids = [r["id"] for r in iceberg_rows(tmp_path / "wh", identifier)]
    assert len(ids) == len(set(ids)) == 300


def _asset_key(keyspace: str) -> Any:
    from dagster import AssetKey

    return AssetKey([keyspace, "items"])
