"""Demo: materialize every token-range partition of a table with the ``dagster`` CLI, then count Iceberg.

    uv run python -m examples.dagster.demo --contact-point 127.0.0.1 --keyspace demo --table events \\
        --warehouse out/dagster-warehouse

What it runs (in a temporary DAGSTER_HOME, so nothing is left behind but the Iceberg table)::

    dagster asset materialize -f examples/dagster/demo.py --select demo/events \\
        --partition-range r00-of-16...r15-of-16

One Dagster run holds all 16 partitions (the asset has ``BackfillPolicy.single_run()``, which
``--partition-range`` requires); inside it the engine exports 4 ranges at a time and commits each
range on its own. The same file is the definitions module that command loads: ``defs`` below is
built lazily, from environment variables ``run`` sets, so importing this module costs nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dagster import Definitions, definitions

SPLITS = 16
HERE = Path(__file__).resolve()


def _say(message: str) -> None:
    print(f"demo[dagster]: {message}", flush=True)


@definitions
def defs() -> Definitions:
    """The demo's one asset; read by ``dagster asset materialize -f`` in the child process."""
    from dagster_cassandra_bulk import (
        CassandraResource,
        CassandraTable,
        IcebergCatalogResource,
        backfill_policy_for,
        build_cassandra_iceberg_asset,
    )

    env = os.environ
    table = CassandraTable(env["CB_DEMO_KEYSPACE"], env["CB_DEMO_TABLE"], splits=SPLITS)
    asset = build_cassandra_iceberg_asset(table, backfill_policy=backfill_policy_for("all"), range_workers=4)
    return Definitions(
        assets=[asset],
        resources={
            "cassandra": CassandraResource(
                contact_points=[env["CB_DEMO_CONTACT_POINT"]],
                port=int(env["CB_DEMO_PORT"]),
                username=env.get("CASSANDRA_USERNAME") or None,
                password=env.get("CASSANDRA_PASSWORD") or None,
            ),
            "iceberg": IcebergCatalogResource(warehouse=env["CB_DEMO_WAREHOUSE"]),
        },
    )


def _iceberg_rows(warehouse: str, identifier: str) -> int:
    from dagster_cassandra_bulk import IcebergCatalogResource

    rows: int = IcebergCatalogResource(warehouse=warehouse).load_table(identifier).scan().to_arrow().num_rows
    return rows


def _materialized_partitions(home: str, keyspace: str, table: str) -> int:
    """Partitions the instance records as materialized (read before the temporary home goes)."""
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.from_config(home) as instance:
        return len(instance.get_materialized_partitions(AssetKey([keyspace, table])))


def run(contact_point: str, port: int, keyspace: str, table: str, warehouse: str) -> int:
    """Materialize all range partitions of ``keyspace.table`` into ``warehouse``; return Iceberg's row count."""
    from cassandra_bulk_core.ring import plan_ranges

    ranges = plan_ranges(SPLITS)
    warehouse = str(Path(warehouse).resolve())
    with tempfile.TemporaryDirectory(prefix="dagster-home-") as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **os.environ,
            "DAGSTER_HOME": home,
            "CB_DEMO_CONTACT_POINT": contact_point,
            "CB_DEMO_PORT": str(port),
            "CB_DEMO_KEYSPACE": keyspace,
            "CB_DEMO_TABLE": table,
            "CB_DEMO_WAREHOUSE": warehouse,
        }
        args = ["asset", "materialize", "-f", str(HERE), "--select", f"{keyspace}/{table}"]
        args += ["--partition-range", f"{ranges[0].id}...{ranges[-1].id}"]
        _say("$ dagster " + " ".join(a if a != str(HERE) else "examples/dagster/demo.py" for a in args))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "dagster", *args], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
            raise RuntimeError(f"dagster asset materialize failed (exit {done.returncode})")
        seconds = time.monotonic() - started
        materialized = _materialized_partitions(home, keyspace, table)
    rows = _iceberg_rows(warehouse, f"{keyspace}.{table}")
    _say(f"one Dagster run materialized {materialized} of {len(ranges)} range partitions in {seconds:.1f}s")
    _say(f"Iceberg table {keyspace}.{table} in {warehouse}: a pyiceberg scan reads {rows} rows")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-point", default=os.environ.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CASSANDRA_PORT", "9042")))
    parser.add_argument("--keyspace", default="demo")
    parser.add_argument("--table", default="events")
    parser.add_argument("--warehouse", default="out/dagster-warehouse")
    a = parser.parse_args(argv)
    run(a.contact_point, a.port, a.keyspace, a.table, a.warehouse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
