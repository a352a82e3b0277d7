"""gs://, abfs:// and any other fsspec protocol: pyarrow's native filesystem or an fsspec one wrapped
for pyarrow. Writes to them use the temp-object + move publish of :mod:`.atomic`.

* ``gs://`` opens pyarrow's native ``GcsFileSystem`` first (Application Default Credentials), gcsfs
  second. With ``STORAGE_EMULATOR_HOST`` set (the variable Google's client libraries and gcsfs honour)
  the native filesystem is pointed at that endpoint, anonymously: without this pyarrow would ignore it,
  look for real credentials and retry against Google for up to 15 minutes.
* ``abfs://``/``az://`` open adlfs first (``AZURE_STORAGE_CONNECTION_STRING``, account name + key, SAS
  or service principal from its usual ``AZURE_STORAGE_*`` variables), pyarrow's ``AzureFileSystem``
  second.

Tested against real servers on loopback (``tests/integration/test_object_stores.py``): gs:// against
fake-gcs-server, abfs:// against Azurite's blob service; export (Parquet, CSV, Iceberg), ``--resume``,
load back, aborted writes and credential redaction. Not tested against Google's or Microsoft's service
itself, nor Azure accounts with a hierarchical namespace (Azurite has no Data Lake Gen2 endpoint).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from .errors import StorageError, _redact_uri, _scrub


@dataclass(frozen=True)
class OpenedFs:
    fs: pafs.FileSystem
    root: str
    uri: str
    """The URI with userinfo and query values masked, for messages and manifests."""
    uri_query: str
    """The redacted ``?k=***`` part, which :meth:`Storage.uri_of` puts after each file's path."""


def open_fs(uri: str, kind: str, *, native_first: bool) -> OpenedFs:
    """Open ``uri`` with pyarrow's native filesystem or fsspec, in the preferred order.

    The raw ``uri`` (which may carry ``?account_key=...``, ``?access_token=...`` or ``user:pw@``) only
    reaches the filesystem constructors; the returned ``uri`` and every message get the redacted form.
    """
    # Azure's URIs name the container as the user (abfs://container@account...): keep that part.
    redacted, secrets = _redact_uri(uri, keep_user=kind == "azure")
    base, sep, query = redacted.partition("?")
    shown, uri_query = base.rstrip("/") + sep + query, sep + query
    raw_query = urlsplit(uri).query
    errors: list[str] = []
    attempts = (_native_fs, _fsspec_fs) if native_first else (_fsspec_fs, _native_fs)
    for attempt in attempts:
        try:
            fs, root = attempt(uri)
        except Exception as exc:
            errors.append(_scrub(f"{type(exc).__name__}: {exc}", uri, redacted, secrets))
            continue
        root = root.rstrip("/")
        if raw_query and root.endswith(f"?{raw_query}"):  # fsspec leaves the query in the path
            root = root[: -len(raw_query) - 1].rstrip("/")
        if any(len(secret) >= 4 and secret in root for secret in secrets):
            errors.append(f"{attempt.__name__.strip('_')}: the URI's credentials would be part of the object paths")
            continue
        return OpenedFs(fs, root, shown, uri_query)
    extra = {"gcs": "gcs", "azure": "azure"}.get(kind)
    hint = f" (pip install 'cassandra-bulk[{extra}]')" if extra else ""
    raise StorageError("open", shown, "; ".join(errors) + hint)


def _native_fs(uri: str) -> tuple[pafs.FileSystem, str]:
    parts = urlsplit(uri)
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
    if parts.scheme.lower() in ("gs", "gcs") and emulator and emulator != "default":
        return _gcs_emulator_fs(emulator), f"{parts.netloc}{parts.path}"
    return pafs.FileSystem.from_uri(uri)


def _gcs_emulator_fs(endpoint: str) -> pafs.FileSystem:
    """pyarrow's GCS client on an emulator (``http://host:port`` or ``host:port``), no credentials."""
    target = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    return pafs.GcsFileSystem(
        anonymous=True,
        scheme=target.scheme or "http",
        endpoint_override=target.netloc,
        retry_time_limit=timedelta(seconds=30),
    )


def _fsspec_fs(uri: str) -> tuple[pafs.FileSystem, str]:
    import fsspec

    # A fresh instance each time: fsspec caches filesystems by their arguments, and gcsfs/adlfs read
    # their credentials and endpoint from the environment when built, so a cached one made earlier in
    # a long-lived process (a worker, a test session) would talk to another account or endpoint.
    ffs, path = fsspec.core.url_to_fs(uri, skip_instance_cache=True)
    return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), path


_CLIENT_MODULES = ("azure.", "adlfs", "gcsfs", "google.", "aiohttp")


def client_failure(exc: BaseException) -> OSError | None:
    """An Azure SDK / adlfs / gcsfs / Google client error as a one-line ``OSError``, else None.

    Those clients raise their own types (adlfs also wraps upload errors in ``RuntimeError`` with the
    SDK's error as the cause) whose text spans lines and carries the service's XML or JSON body; the
    one-line form keeps the service's error code and the first line of its message.
    """
    current: BaseException | None = exc
    for _ in range(4):
        if current is None:
            return None
        if type(current).__module__.startswith(_CLIENT_MODULES):
            code = getattr(current, "error_code", None) or getattr(current, "code", None)
            first = (str(getattr(current, "message", None) or current).strip().splitlines() or [""])[0]
            if current is not exc:  # the wrapper's own first line says what was being done
                first = (str(exc).strip().splitlines() or [first])[0]
            return OSError(f"{code}: {first}" if code and str(code) not in first else first)
        current = current.__cause__ or current.__context__
    return None
