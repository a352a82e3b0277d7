"""One storage layer for every sink: local disk, S3 (and S3-compatible servers), GCS and Azure.

| module | holds |
|---|---|
| ``base.py`` | :class:`Storage`, the facade every sink, source and manifest goes through |
| ``options.py`` | :class:`StorageOptions` (from code or ``CASSANDRA_BULK_*`` variables), size limits |
| ``errors.py`` | :class:`StorageError`, one-line reasons, credential redaction |
| ``atomic.py`` | :class:`AtomicWrite` (publish whole or not at all), temp-object + move publish |
| ``local.py`` | local paths and ``file://``: temp file, fsync, ``os.replace`` |
| ``s3.py`` | S3 endpoint/region/credentials, pyarrow filesystem and boto3 client, prefix deletes |
| ``s3_upload.py`` | the abortable multipart upload behind every S3 write |
| ``fsspec_backends.py`` | ``gs://``, ``abfs://`` and other fsspec protocols |
"""

from .atomic import AtomicWrite
from .base import Storage
from .errors import StorageError, _redact_uri
from .options import (
    COMPRESSIONS,
    DEFAULT_PART_SIZE,
    ENV_PREFIX,
    MIB,
    S3_MAX_PART_SIZE,
    S3_MAX_PARTS,
    S3_MIN_PART_SIZE,
    SSE_MODES,
    StorageOptions,
)
from .s3_upload import _S3Upload

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_PART_SIZE",
    "ENV_PREFIX",
    "MIB",
    "S3_MAX_PARTS",
    "S3_MAX_PART_SIZE",
    "S3_MIN_PART_SIZE",
    "SSE_MODES",
    "AtomicWrite",
    "Storage",
    "StorageError",
    "StorageOptions",
    "_S3Upload",
    "_redact_uri",
]
