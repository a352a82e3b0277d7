"""The Iceberg table's schema: the target Arrow schema from the CQL columns, identifier fields,
count-only metrics for far dates, and evolving an existing table when Cassandra columns change."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..scan import TableScan
from ..table import TableInfo
from ..types import iceberg_schema
from .options import DATE_COLUMN, RANGE_COLUMN, IcebergOptions


def target_arrow_schema(scan: TableScan, options: IcebergOptions) -> pa.Schema:
    schema = iceberg_schema(scan.schema)
    schema = schema.append(
        pa.field(RANGE_COLUMN, pa.string(), nullable=False, metadata={b"doc": b"cassandra-bulk token range id"})
    )
    if options.mode == "daily":
        schema = schema.append(
            pa.field(DATE_COLUMN, pa.date32(), nullable=False, metadata={b"doc": b"cassandra-bulk export date"})
        )
    return schema


def identifier_columns(info: TableInfo, target: pa.Schema) -> tuple[list[str], dict[str, str]]:
    """The primary key columns Iceberg can take as identifier fields, and why others are left out.

    Iceberg requires identifier fields to be required and not floating point. A clustering column
    is null in a static-only row (a partition with only static cells), so it is optional when the
    table has static columns; a float/double key has NaN, which equals nothing. Such columns stay
    in the table, only not in the identifier; the reason is kept in a table property."""
    keys: list[str] = []
    left_out: dict[str, str] = {}
    for name in [*info.partition_key, *info.clustering_key]:
        field = target.field(name)
        if pa.types.is_floating(field.type):
            left_out[name] = "float/double key (Iceberg identifier fields cannot be floating point)"
        elif field.nullable:
            left_out[name] = "clustering column of a table with static columns (null in static-only rows)"
        else:
            keys.append(name)
    return keys, left_out


def _date_metrics_properties(schema: Any) -> dict[str, str]:
    """Keep only counts (no min/max) for date columns: a CQL date spans ±5.8 million years and
    pyiceberg turns Parquet bounds into Python dates (years 1-9999), so bounds of far dates would fail
    the commit. Those columns lose file pruning by value; everything else keeps full metrics."""
    from pyiceberg.schema import index_by_id
    from pyiceberg.types import DateType

    return {
        f"write.metadata.metrics.column.{schema.find_column_name(field_id)}": "counts"
        for field_id, field in index_by_id(schema).items()
        if isinstance(field.field_type, DateType) and field.name != DATE_COLUMN  # the partition needs bounds
    }


def _evolve(table: Any, target: pa.Schema, identifier: str, options: IcebergOptions) -> Any:
    from pyiceberg.exceptions import CommitFailedException

    current = table.schema().as_arrow()
    have = {f.name: f for f in current}
    if options.mode == "daily" and DATE_COLUMN not in have:
        raise ConfigError(f"Iceberg table {identifier} was not created in daily mode (no {DATE_COLUMN} column)")
    problems = []
    for f in target:
        old = have.get(f.name)
        if old is not None and not _compatible(old.type, f.type):
            problems.append(f"{f.name}: Iceberg {old.type}, Cassandra now {f.type}")
    if problems:
        raise ConfigError(
            f"Cassandra column types changed incompatibly for Iceberg table {identifier}: " + "; ".join(problems)
        )
    missing = [f for f in target if f.name not in have]
    if not missing:
        return table
    for _ in range(10):
        try:
            with table.transaction() as tx:
                with tx.update_schema() as update:
                    update.union_by_name(pa.schema([f.with_nullable(True) for f in missing]))
                metrics = _date_metrics_properties(tx.table_metadata.schema())
                if metrics:
                    tx.set_properties(metrics)
            break
        except CommitFailedException:
            table = table.refresh() if hasattr(table, "refresh") else table
    return table


def _compatible(old: pa.DataType, new: pa.DataType) -> bool:
    if old == new:
        return True
    if isinstance(old, pa.BaseExtensionType) or isinstance(new, pa.BaseExtensionType):
        return str(old) == str(new)
    if pa.types.is_integer(old) and pa.types.is_integer(new):
        return old.bit_width >= new.bit_width
    if pa.types.is_floating(old) and pa.types.is_floating(new):
        return old.bit_width >= new.bit_width
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return True
    for same in ((pa.types.is_string, pa.types.is_large_string), (pa.types.is_binary, pa.types.is_large_binary)):
        if any(f(old) for f in same) and any(f(new) for f in same):
            return True
    nested = (pa.types.is_list(old) or pa.types.is_large_list(old)) and (
        pa.types.is_list(new) or pa.types.is_large_list(new)
    )
    if nested:
        return _compatible(old.value_type, new.value_type)
    if pa.types.is_map(old) and pa.types.is_map(new):
        return _compatible(old.key_type, new.key_type) and _compatible(old.item_type, new.item_type)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        olds = {f.name: f.type for f in old}
        return all(f.name not in olds or _compatible(olds[f.name], f.type) for f in new)
    return False


def _file_schema(table: Any, target: pa.Schema) -> pa.Schema:
    """Data files hold the Cassandra columns in the table's types (Iceberg may have widened some)."""
    current = {f.name: f for f in table.schema().as_arrow()}
    fields = []
    for f in target:
        have = current.get(f.name)
        fields.append(f if have is None or have.type == f.type else pa.field(f.name, have.type, f.nullable, f.metadata))
    return pa.schema(fields)
