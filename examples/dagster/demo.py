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

``--restore-into events_restored`` then runs the reverse direction the same way: it creates that
table with the source's schema (if missing), materializes every range partition of the load asset
``cassandra/<keyspace>/events_restored`` (upstream: the Iceberg asset) and compares row counts::

    dagster asset materialize -f examples/dagster/demo.py --select cassandra/demo/events_restored \
        --partition-range r00-of-16...r15-of-16
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
        IcebergCassandraTable,
        IcebergCatalogResource,
        backfill_policy_for,
        build_cassandra_iceberg_asset,
        build_iceberg_cassandra_asset,
    )

    env = os.environ
    table = CassandraTable(env["CB_DEMO_KEYSPACE"], env["CB_DEMO_TABLE"], splits=SPLITS)
    assets = [build_cassandra_iceberg_asset(table, backfill_policy=backfill_policy_for("all"), range_workers=4)]
    if env.get("CB_DEMO_RESTORE_TABLE"):  # the reverse direction: Iceberg → that Cassandra table
        restore = IcebergCassandraTable(table.keyspace, env["CB_DEMO_RESTORE_TABLE"], source=table)
        assets.append(
            build_iceberg_cassandra_asset(
                restore, backfill_policy=backfill_policy_for("all"), log_dir=env["CB_DEMO_LOG_DIR"]
            )
        )
    return Definitions(
        assets=assets,
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


def _materialized_partitions(home: str, key: list[str]) -> int:
    """Partitions the instance records as materialized (read before the temporary home goes)."""
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.from_config(home) as instance:
        return len(instance.get_materialized_partitions(AssetKey(key)))


def _env(home: str, contact_point: str, port: int, keyspace: str, table: str, warehouse: str) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": home,
        "CB_DEMO_CONTACT_POINT": contact_point,
        "CB_DEMO_PORT": str(port),
        "CB_DEMO_KEYSPACE": keyspace,
        "CB_DEMO_TABLE": table,
        "CB_DEMO_WAREHOUSE": warehouse,
    }


def _materialize(asset_key: str, env: dict[str, str]) -> float:
    """``dagster asset materialize`` of every range partition in one run; returns the seconds it took."""
    from cassandra_bulk_core.ring import plan_ranges

    ranges = plan_ranges(SPLITS)
    args = ["asset", "materialize", "-f", str(HERE), "--select", asset_key]
    args += ["--partition-range", f"{ranges[0].id}...{ranges[-1].id}"]
    _say("$ dagster " + " ".join(a if a != str(HERE) else "examples/dagster/demo.py" for a in args))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dagster", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"dagster asset materialize failed (exit {done.returncode})")
    return time.monotonic() - started


def run(contact_point: str, port: int, keyspace: str, table: str, warehouse: str) -> int:
    """Materialize all range partitions of ``keyspace.table`` into ``warehouse``; return Iceberg's row count."""
    warehouse = str(Path(warehouse).resolve())
    with tempfile.TemporaryDirectory(prefix="dagster-home-") as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = _env(home, contact_point, port, keyspace, table, warehouse)
        seconds = _materialize(f"{keyspace}/{table}", env)
        materialized = _materialized_partitions(home, [keyspace, table])
    rows = _iceberg_rows(warehouse, f"{keyspace}.{table}")
    _say(f"one Dagster run materialized {materialized} of {SPLITS} range partitions in {seconds:.1f}s")
    _say(f"Iceberg table {keyspace}.{table} in {warehouse}: a pyiceberg scan reads {rows} rows")
    return rows


def _count(session: object, keyspace: str, table: str) -> int:
    return int(session.execute(f"SELECT count(*) FROM {keyspace}.{table}").one()[0])  # type: ignore[attr-defined]


def restore(contact_point: str, port: int, keyspace: str, table: str, warehouse: str, target: str) -> tuple[int, int]:
    """Load the Iceberg table ``run`` wrote into ``keyspace.target`` (created with the source's schema
    if missing) through the load asset, every range partition in one run; return (source, target) counts."""
    from cassandra_bulk_core import ConnectionConfig

    warehouse = str(Path(warehouse).resolve())
    config = ConnectionConfig(
        contact_points=(contact_point,),
        port=port,
        username=os.environ.get("CASSANDRA_USERNAME") or None,
        password=os.environ.get("CASSANDRA_PASSWORD") or None,
    )
    cluster, session = config.connect()
    try:
        create = cluster.metadata.keyspaces[keyspace].tables[table].as_cql_query()
        create = create.replace(
            f"CREATE TABLE {keyspace}.{table} (", f"CREATE TABLE IF NOT EXISTS {keyspace}.{target} (", 1
        )
        session.execute(create)
        with tempfile.TemporaryDirectory(prefix="dagster-home-") as home:
            Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            env = _env(home, contact_point, port, keyspace, table, warehouse)
            env["CB_DEMO_RESTORE_TABLE"] = target
            env["CB_DEMO_LOG_DIR"] = str(Path(warehouse).parent / "logs")
            seconds = _materialize(f"cassandra/{keyspace}/{target}", env)
            materialized = _materialized_partitions(home, ["cassandra", keyspace, target])
        counts = _count(session, keyspace, table), _count(session, keyspace, target)
    finally:
        cluster.shutdown()
    _say(
        f"one Dagster run loaded {materialized} of {SPLITS} range partitions into {keyspace}.{target} in {seconds:.1f}s"
    )
    _say(f"{keyspace}.{table} holds {counts[0]} rows, {keyspace}.{target} {counts[1]}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contact-point", default=os.environ.get("CASSANDRA_CONTACT_POINTS", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CASSANDRA_PORT", "9042")))
    parser.add_argument("--keyspace", default="demo")
    parser.add_argument("--table", default="events")
    parser.add_argument("--warehouse", default="out/dagster-warehouse")
    parser.add_argument("--restore-into", metavar="TABLE", help="then load the Iceberg table into this table")
    a = parser.parse_args(argv)
    run(a.contact_point, a.port, a.keyspace, a.table, a.warehouse)
    if a.restore_into:
        source, target = restore(a.contact_point, a.port, a.keyspace, a.table, a.warehouse, a.restore_into)
        return 0 if source == target else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
