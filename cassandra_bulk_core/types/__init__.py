"""CQL types: the typed tree (:mod:`.tree`) and one visitor per target.

- :mod:`.tree` — ``CqlType`` nodes, :func:`parse` (schema text), :func:`from_driver`, :func:`visit`.
- :mod:`.arrow` — CQL → Arrow (types and per-value normalizers, EMPTY counting).
- :mod:`.conform` — Arrow → Cassandra for loads (canonical casts, driver values).
- :mod:`.decode` — exact wire decoding for scans (no ``datetime``/``Decimal``/``UUID`` objects).
- :mod:`.iceberg` — Arrow → Iceberg-storable Arrow.
- :mod:`.native` — the Rust page decoder's column specs and Arrow assembly.

Names are exported lazily (PEP 562) so importing the tree costs neither pyarrow nor the driver.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # tree
    "CqlType": "tree",
    "NativeType": "tree",
    "ListType": "tree",
    "SetType": "tree",
    "MapType": "tree",
    "TupleType": "tree",
    "UserType": "tree",
    "VectorType": "tree",
    "CustomType": "tree",
    "CqlTypeVisitor": "tree",
    "UnknownCqlType": "tree",
    "visit": "tree",
    "parse": "tree",
    "from_driver": "tree",
    "table_types": "tree",
    # arrow
    "CQL_TYPE_KEY": "arrow",
    "DURATION_TYPE": "arrow",
    "ColumnType": "arrow",
    "ConversionError": "conform",
    "Normalizer": "arrow",
    "UnsupportedType": "arrow",
    "arrow_field": "arrow",
    "column_type": "arrow",
    "conform_column": "conform",
    "driver_values": "conform",
    "storage_type": "arrow",
    "to_arrow_array": "arrow",
    # iceberg
    "iceberg_field": "iceberg",
    "iceberg_schema": "iceberg",
    "iceberg_type": "iceberg",
    "to_iceberg_batch": "iceberg",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
