"""One of the two processes of ``test_dagster_races.py``: a Dagster run per round over a partition range
of the Cassandra→Iceberg asset, started when the test says go, so the two processes' runs overlap.

``python -m tests.faults.dagster_race_worker NAME LOG`` (``LOG``: where the test reads this process's
output; only named here) with, in the environment: ``CB_RACE_DIR`` (the
rendezvous directory: ``NAME-ready-I`` is written when round I can start, ``go-I`` is waited for,
``NAME-done-I.json`` holds the round's outcome), ``CB_RACE_ROUNDS`` (JSON: ``[[first, last], ...]``
partition keys per round), ``CB_RACE_HOSTS``, ``CB_RACE_KEYSPACE``, ``CB_RACE_SPLITS``,
``CB_RACE_WAREHOUSE`` and ``CB_RACE_DAGSTER_HOME`` (the Dagster instance both processes share).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _wait(path: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout}s")
        time.sleep(0.005)


def _failure(result: Any) -> str:
    messages = []
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            messages.append(error.to_string() if error is not None else str(event.message))
    return "\n".join(messages) or "the run failed"


def main(name: str) -> None:
    from dagster import DagsterInstance, materialize
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dagster_cassandra_bulk import (
        CassandraResource,
        CassandraTable,
        IcebergCatalogResource,
        build_cassandra_iceberg_asset,
    )

    env = os.environ
    sync = Path(env["CB_RACE_DIR"])
    # No retry policy: a run that meets a conflict it cannot handle fails, and the test sees it.
    table = CassandraTable(env["CB_RACE_KEYSPACE"], "kv", splits=int(env["CB_RACE_SPLITS"]))
    asset = build_cassandra_iceberg_asset(table, retry_policy=None)
    resources = {
        "cassandra": CassandraResource(contact_points=env["CB_RACE_HOSTS"].split(",")),
        "iceberg": IcebergCatalogResource(warehouse=env["CB_RACE_WAREHOUSE"]),
    }
    instance = DagsterInstance.from_config(env["CB_RACE_DAGSTER_HOME"])
    for index, (first, last) in enumerate(json.loads(env["CB_RACE_ROUNDS"])):
        (sync / f"{name}-ready-{index}").touch()
        _wait(sync / f"go-{index}")
        started = time.time()
        outcome: dict[str, Any] = {"started": started}
        try:
            tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
            result = materialize([asset], resources=resources, instance=instance, tags=tags, raise_on_error=False)
            outcome.update(success=result.success, run_id=result.run_id)
            materialized = result.asset_materializations_for_node(asset.node_def.name) if result.success else []
            outcome["partitions"] = sorted(str(m.partition) for m in materialized)
            if not result.success:
                outcome["error"] = _failure(result)
        except Exception:
            outcome.update(success=False, error=traceback.format_exc())
        outcome["seconds"] = time.time() - started
        (sync / f"{name}-done-{index}.json.tmp").write_text(json.dumps(outcome))
        (sync / f"{name}-done-{index}.json.tmp").replace(sync / f"{name}-done-{index}.json")


if __name__ == "__main__":
    main(sys.argv[1])
