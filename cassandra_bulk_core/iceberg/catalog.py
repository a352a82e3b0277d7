"""The catalog side: opening the catalog, creating the namespace and table from the Cassandra schema
(both tolerate concurrent first exports), partition transforms, and the catalog's S3 settings."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..io import StorageOptions
from ..scan import TableScan
from ..table import TableInfo
from .catalog_config import redact, resolve_catalog
from .options import DATE_COLUMN, PROP_PREFIX, RANGE_COLUMN, IcebergOptions, _identifier
from .schema import _date_metrics_properties, _evolve, identifier_columns, target_arrow_schema


def require_pyiceberg() -> None:
    """Iceberg support is the ``iceberg`` extra (pyiceberg, SQLAlchemy): a CSV/Parquet-only
    install does without it, and asking for Iceberg there says what to install, in one line."""
    import importlib.util

    if importlib.util.find_spec("pyiceberg") is None:
        raise ConfigError("Iceberg needs pyiceberg, which is not installed: pip install 'cassandra-bulk[iceberg]'")


def catalog_properties(options: IcebergOptions) -> dict[str, str]:
    """The properties the catalog of ``options`` is opened with: pyiceberg's configuration of the
    named catalog (``.pyiceberg.yaml``, ``PYICEBERG_CATALOG__*``) overridden by the explicit ones, or
    the embedded default's (see :mod:`.catalog_config`). Holds secrets: never log or store it."""
    require_pyiceberg()
    return resolve_catalog(options.catalog_name, options.catalog_properties, options.warehouse)[1]


def load_catalog(options: IcebergOptions, attempts: int = 10) -> Any:
    """The configured catalog, or the embedded SQLite one (created on first use).

    Properties come from :func:`catalog_properties`. A SQL catalog creates its own tables on first
    use, checking first: workers opening a fresh warehouse at once can both pass the check (``table
    iceberg_tables already exists``) or meet SQLite's lock. Opening again then finds the tables
    made, so those two errors are retried. Any other failure is one line, secrets removed."""
    require_pyiceberg()
    from pyiceberg.catalog import load_catalog as _load

    name, props = resolve_catalog(options.catalog_name, options.catalog_properties, options.warehouse)
    if props.get("type") == "s3tables":  # not a pyiceberg type: our S3 Tables API catalog (s3tables.py)
        from .s3tables import open_s3tables_catalog

        return open_s3tables_catalog(name, props)
    for attempt in range(attempts):
        try:
            return _load(name, **props)
        except Exception as exc:
            if attempt < attempts - 1 and _is_sql_race(exc, "already exists"):
                time.sleep(0.05 * (attempt + 1))
                continue
            if isinstance(exc, ConfigError):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            kind = props.get("type") or props.get("py-catalog-impl") or "catalog"
            raise ConfigError(
                f"cannot open Iceberg catalog {name!r} ({kind}): {type(exc).__name__}: {redact(first, props)}"
            ) from None
    raise AssertionError("unreachable")


def storage_options_from_catalog(props: Mapping[str, str]) -> StorageOptions | None:
    """Reuse the catalog's S3 settings (pyiceberg's ``s3.*`` keys) for writing data files."""
    if not any(k.startswith("s3.") for k in props):
        return None
    return StorageOptions(
        s3_endpoint_url=props.get("s3.endpoint"),
        s3_region=props.get("s3.region"),
        s3_access_key_id=props.get("s3.access-key-id"),
        s3_secret_access_key=props.get("s3.secret-access-key"),
        s3_session_token=props.get("s3.session-token"),
    )


def _parse_transform(text: str) -> tuple[str, Any, str]:
    """``bucket(16, id)`` → (source column, transform, partition field name)."""
    from pyiceberg.transforms import (
        DayTransform,
        HourTransform,
        IdentityTransform,
        MonthTransform,
        TruncateTransform,
        YearTransform,
    )

    text = text.strip()
    if "(" not in text:
        return text, IdentityTransform(), text
    name, _, rest = text.partition("(")
    args = [a.strip() for a in rest.rstrip(")").split(",")]
    simple: dict[str, Any] = {
        "year": YearTransform,
        "month": MonthTransform,
        "day": DayTransform,
        "hour": HourTransform,
    }
    if name in simple and len(args) == 1:
        return args[0], simple[name](), f"{args[0]}_{name}"
    if name == "bucket":
        # pyiceberg's add_files infers a file's partition from its column bounds, which a hash can't
        # do ("non-linear" transform); our files are registered with add_files.
        raise ConfigError(
            f"partition transform {text!r}: bucket(N, col) is not supported yet; use col, "
            "truncate(N, col) or year|month|day|hour(col)"
        )
    if name == "truncate" and len(args) == 2 and args[0].isdigit():
        return args[1], TruncateTransform(int(args[0])), f"{args[1]}_{name}"
    raise ConfigError(
        f"cannot read partition transform {text!r}: use col, year|month|day|hour(col), bucket(N, col) "
        "or truncate(N, col)"
    )


def ensure_namespace(catalog: Any, namespace: str, attempts: int = 10) -> None:
    """Create ``namespace`` unless it exists, tolerating other workers creating it at the same time.

    pyiceberg's SQL catalog checks, then inserts: two first exports into an empty warehouse can
    both pass the check, and the second insert fails (``IntegrityError: UNIQUE constraint failed:
    iceberg_namespace_properties...``), or SQLite answers "database is locked". Like a table created
    concurrently, a namespace that exists after the failure is fine; a lock is waited out."""
    for attempt in range(attempts):
        try:
            catalog.create_namespace_if_not_exists(namespace)
            return
        except Exception as exc:
            if _namespace_exists(catalog, namespace):
                return  # another worker created it first: fine
            if attempt == attempts - 1 or not _is_sql_race(exc):
                raise
        time.sleep(0.05 * (attempt + 1))


def _namespace_exists(catalog: Any, namespace: str) -> bool:
    try:
        return bool(catalog.namespace_exists(namespace))
    except Exception:  # the catalog itself is still busy: treat as not (yet) there
        return False


def _is_sql_race(exc: BaseException, *also: str) -> bool:
    """SQLAlchemy's OperationalError for a busy SQLite database (or one of ``also``): worth a retry."""
    text = str(exc)
    return type(exc).__name__ == "OperationalError" and any(m in text for m in ("locked", *also))


def ensure_table(catalog: Any, info: TableInfo, scan: TableScan, options: IcebergOptions) -> Any:
    """Create the table (and namespace) from the Cassandra schema, or evolve an existing one.

    New Cassandra columns are added; columns no longer in Cassandra stay (nullable, unfilled); a
    type change Iceberg cannot make fails here, before any data is written."""
    from pyiceberg.exceptions import NoSuchTableError

    identifier = _identifier(info, options)
    ensure_namespace(catalog, identifier.rsplit(".", 1)[0])
    target = target_arrow_schema(scan, options)
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        _create_table(catalog, identifier, info, target, options)
        table = catalog.load_table(identifier)
    return _evolve(table, target, identifier, options)


def _create_table(catalog: Any, identifier: str, info: TableInfo, target: pa.Schema, options: IcebergOptions) -> None:
    """One transaction: schema, identifier fields, partition spec, sort order, metrics properties."""
    from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError

    properties = {
        "write.format.default": "parquet",
        "write.parquet.compression-codec": "zstd",
        f"{PROP_PREFIX}source": f"{info.keyspace}.{info.table}",
        f"{PROP_PREFIX}mode": options.mode,
        **options.table_properties,
    }
    keys, left_out = identifier_columns(info, target)
    if options.mode == "daily":
        keys.append(DATE_COLUMN)
    if left_out:
        reasons = "; ".join(f"{c}: {why}" for c, why in left_out.items())
        properties[f"{PROP_PREFIX}identifier-fields-left-out"] = reasons
    try:
        tx = catalog.create_table_transaction(identifier, schema=target, properties=properties)
        with tx.update_spec() as spec:
            if options.mode == "daily":
                spec.add_identity(DATE_COLUMN)
            spec.add_identity(RANGE_COLUMN)
            for text in options.partition_by:
                source, transform, name = _parse_transform(text)
                spec.add_field(source, transform, name)
        with tx.update_schema() as update:
            update.set_identifier_fields(*keys)
        if options.sort_by:
            from pyiceberg.transforms import IdentityTransform

            with tx.update_sort_order() as order:
                for col in options.sort_by:
                    order.asc(col.strip(), IdentityTransform())
        metrics = _date_metrics_properties(tx.table_metadata.schema())
        if metrics:
            tx.set_properties(metrics)
        tx.commit_transaction()
    except (TableAlreadyExistsError, CommitFailedException):
        pass  # another worker created it first: fine, use theirs
