"""Compatibility alias: the storage layer lives in :mod:`cassandra_bulk_core.io` (one module per backend).

The engine imports ``cassandra_bulk_core.io``; this module stays for code written against earlier
releases (and importers not yet moved), re-exporting the same objects.
"""

from .io import *  # noqa: F403
from .io import __all__ as __all__
from .io import _redact_uri as _redact_uri
from .io import _S3Upload as _S3Upload
