"""One storage layer for every sink: local disk, S3 (and S3-compatible servers), GCS and Azure.

The engine writes part files, range markers and a manifest into a destination given as a URI. All of
it goes through :class:`Storage`, so the rules that make an export safe to read and safe to retry live
in one place:

* **Atomic publish.** A reader (or a resumed export) never sees a half-written file at its final
  name, and a write that fails or crashes leaves nothing there (an earlier complete version, if any,
  stays). Locally that is a hidden temp file in the same directory, fsync'd and ``os.replace``'d.
  On S3 the data streams straight to the final key as a multipart upload, which S3 only makes
  visible when it is completed; an exception aborts it instead (see :class:`_S3Upload` for why this
  is done with boto3 rather than pyarrow's own output stream).
* **Streaming.** Nothing buffers a whole file in memory: on S3 about ``s3_max_in_flight + 2`` parts
  of ``s3_part_size`` bytes per open file (the one filling, the one waiting, those uploading).
* **One-line errors.** An unwritable destination (permission denied, missing bucket, unreachable
  endpoint, no credentials) raises :class:`StorageError` naming the URI and the reason, which the
  CLI prints without a traceback.

Reads, listings and sizes go through a ``pyarrow.fs.FileSystem`` (:attr:`Storage.fs`), which callers
may also hand to pyarrow readers directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import posixpath
import re
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

import pyarrow as pa
import pyarrow.fs as pafs

from .errors import BulkError, ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "CASSANDRA_BULK_"
COMPRESSIONS = ("gzip", "zstd", "bz2")
SSE_MODES = ("AES256", "aws:kms")

MIB = 1024 * 1024
S3_MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
S3_MAX_PART_SIZE = 5 * 1024 * MIB
S3_MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * MIB  # x 10,000 parts = 156 GiB per object (pyarrow's fixed 10 MiB gives ~98 GiB)
_WRITE_BUFFER = 1 * MIB  # batches small writes before they cross into Python for the S3 upload

_TEMP_RE = re.compile(r"^\..+\.tmp-[0-9a-f]{32}$")
_SECRET_FIELDS = ("s3_secret_access_key", "s3_session_token")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class StorageError(BulkError):
    """A destination cannot be written or read: one line naming the URI and the reason.

    Subclasses :class:`~cassandra_bulk_core.errors.BulkError` so the CLI prints it without a traceback.
    """

    def __init__(self, action: str, uri: str, reason: str):
        self.action, self.uri = action, uri
        self.reason = " ".join(str(reason).split())[:400] or "unknown error"
        super().__init__(f"cannot {action} {uri}: {self.reason}")


# -- options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageOptions:
    """How to reach object storage. Every field is optional: unset credentials fall back to the
    standard AWS chain (``AWS_*`` environment variables, ``~/.aws`` profile, container/EC2 role), which
    both pyarrow's S3 client and boto3 apply on their own.
    """

    s3_endpoint_url: str | None = None
    """S3-compatible server (MinIO, Ceph, R2, moto), e.g. ``http://127.0.0.1:9000``; path-style addressing."""
    s3_region: str | None = None
    """Unset: the profile's/environment's region, else the bucket's region as S3 reports it (AWS only)."""
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = dataclasses.field(default=None, repr=False)
    s3_session_token: str | None = dataclasses.field(default=None, repr=False)
    s3_profile: str | None = None
    """A named profile of ``~/.aws/config``; needs boto3 (resolved once, not refreshed by pyarrow)."""
    s3_sse: str | None = None
    """Server-side encryption of written objects: ``AES256`` (SSE-S3) or ``aws:kms`` (SSE-KMS)."""
    s3_sse_kms_key_id: str | None = None
    s3_allow_http: bool | None = None
    """None: the scheme of ``s3_endpoint_url`` decides. False: refuse a plain-HTTP endpoint (credentials
    would cross the network in clear). True: allow it, and use HTTP for an endpoint given without scheme."""
    s3_part_size: int = DEFAULT_PART_SIZE
    """Multipart part size; one object holds at most 10,000 parts. Memory per open file is bounded by it."""
    s3_max_in_flight: int = 2
    """Parts of one file uploading concurrently while the writer keeps producing the next one."""
    s3_max_attempts: int = 5
    """Attempts per S3 request (retries with backoff) in both clients."""

    def __post_init__(self) -> None:
        if self.s3_sse is not None and self.s3_sse not in SSE_MODES:
            raise ConfigError(f"unknown S3 server-side encryption {self.s3_sse!r}; one of {', '.join(SSE_MODES)}")
        if self.s3_sse_kms_key_id and self.s3_sse != "aws:kms":
            raise ConfigError("s3_sse_kms_key_id needs s3_sse='aws:kms'")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise ConfigError("S3 access key id and secret access key must be given together")
        if not S3_MIN_PART_SIZE <= self.s3_part_size <= S3_MAX_PART_SIZE:
            raise ConfigError(f"s3_part_size must be between 5 MiB and 5 GiB, not {self.s3_part_size}")
        if self.s3_max_in_flight < 1 or self.s3_max_attempts < 1:
            raise ConfigError("s3_max_in_flight and s3_max_attempts must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StorageOptions:
        """Options from ``CASSANDRA_BULK_<FIELD>`` variables (e.g. ``CASSANDRA_BULK_S3_ENDPOINT_URL``),
        then ``overrides`` on top; an override of None means "not given" so CLI flags can pass through.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None:
                values[f.name] = _parse_env(f.name, raw, f.type)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown StorageOptions field(s): {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def safe_dict(self) -> dict[str, Any]:
        """All fields, secrets replaced by ``***``: for logs, manifests and ``--help`` output.

        Includes credentials written into the endpoint URL (``https://***@minio:9000``)."""
        out = dataclasses.asdict(self)
        for name in _SECRET_FIELDS:
            if out[name] is not None:
                out[name] = "***"
        if self.s3_endpoint_url:
            out["s3_endpoint_url"] = _redact_endpoint(self.s3_endpoint_url)
        return out

    def __repr__(self) -> str:
        safe = self.safe_dict()
        shown = ", ".join(f"{f.name}={safe[f.name]!r}" for f in dataclasses.fields(self) if f.repr)
        return f"StorageOptions({shown})"


def _parse_env(name: str, raw: str, type_: Any) -> Any:
    text = str(type_)
    if "bool" in text:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return None if "None" in text else False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")
    if text.startswith("int"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be an integer, not {raw!r}") from None
    return raw or None


# -- storage ---------------------------------------------------------------------------------------


class _PendingWrite(Protocol):
    """One open atomic write: ``stream`` takes the bytes, then exactly one of commit/abort runs.
    ``commit`` sets ``written`` to the size of the published file."""

    stream: pa.NativeFile
    written: int

    def commit(self) -> None: ...

    def abort(self, outer: pa.NativeFile) -> None: ...


class Storage:
    """A destination directory/prefix: ``Storage("s3://bucket/exports/t1", options)``.

    ``uri`` is a local path, ``file://...``, ``s3://bucket/prefix`` (also ``s3a://``), ``gs://...`` or
    ``abfs[s]://``/``az://...``. Method paths are relative to it, ``/``-separated, and may not climb out
    (``..``). Nothing is created until the first write, so a read-only use has no side effects.

    The :attr:`uri` attribute (in events, error messages and manifests) never holds credentials: an
    S3 URI with ``key:secret@`` is refused (credentials belong in :class:`StorageOptions` or the AWS
    chain), and for other schemes the given URI is only used to open the filesystem while ``uri``
    shows its userinfo and query values as ``***``.
    """

    def __init__(self, uri: str, options: StorageOptions | None = None):
        self.options = options or StorageOptions()
        self.fs: pafs.FileSystem
        self.root: str
        self.uri: str
        self.kind: str  # "local", "s3", "gcs", "azure" or another fsspec protocol
        self._bucket = ""
        self._key_prefix = ""
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._region: str | None = None
        self._uri_query = ""  # redacted "?k=***" of a gs://, abfs://... URI; uri_of puts paths before it
        self._flexible_checksums = not self.options.s3_endpoint_url
        scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
        if scheme in ("", "file"):
            self._init_local(uri, scheme)
        elif scheme in ("s3", "s3a", "s3n"):
            self._init_s3(uri)
        elif scheme in ("gs", "gcs"):
            self._init_other(uri, "gcs", native_first=True)
        elif scheme in ("abfs", "abfss", "az", "adl"):
            self._init_other(uri, "azure", native_first=False)
        else:
            self._init_other(uri, scheme, native_first=False)
        self._publish = "rename" if self.kind == "local" else "multipart" if self.kind == "s3" else "copy"
        if self.kind == "s3" and not self._has_boto3():
            if self.options.s3_sse:
                raise StorageError(
                    "write to",
                    self.uri,
                    "S3 server-side encryption options need boto3 (pip install 'cassandra-bulk[s3]')",
                )
            self._publish = "copy"  # degraded: temp key + server-side copy, see _CopyPublish

    def __repr__(self) -> str:
        return f"Storage({self.uri!r})"

    # -- resolution ----------------------------------------------------------------------------

    def _init_local(self, uri: str, scheme: str) -> None:
        if scheme == "file":
            parts = urlsplit(uri)
            if parts.netloc not in ("", "localhost"):
                raise ConfigError(f"file URI with a remote host is not supported: {_redact_uri(uri)[0]}")
            path = url2pathname(unquote(parts.path))
        else:
            path = uri
        self.root = Path(path).expanduser().absolute().as_posix()
        self.fs = pafs.LocalFileSystem()
        self.uri = self.root
        self.kind = "local"

    def _init_s3(self, uri: str) -> None:
        parts = urlsplit(uri)
        if "@" in parts.netloc:
            raise ConfigError(
                f"S3 URI must not contain credentials ({_redact_uri(uri)[0]}): give them as the "
                "s3_access_key_id/s3_secret_access_key options (CASSANDRA_BULK_S3_* variables) or an AWS "
                "profile, or leave them to the AWS credential chain (AWS_* environment, ~/.aws, instance role)"
            )
        bucket, prefix = parts.netloc, parts.path.strip("/")
        if not bucket:
            raise ConfigError(f"S3 URI without a bucket: {_redact_uri(uri)[0]}")
        self._bucket, self._key_prefix = bucket, prefix
        self.root = f"{bucket}/{prefix}" if prefix else bucket
        self.uri = f"s3://{self.root}"
        self.kind = "s3"
        self.fs = self._make_s3_fs()

    def _s3_endpoint(self) -> tuple[str | None, str]:
        """(host[:port] for pyarrow, scheme). The scheme comes from the endpoint URL, guarded by allow_http."""
        url, allow = self.options.s3_endpoint_url, self.options.s3_allow_http
        if not url:
            return None, "https"
        shown = _redact_endpoint(url)
        if "@" in urlsplit(url if "://" in url else f"//{url}").netloc:
            raise ConfigError(
                f"S3 endpoint URL must not contain credentials ({shown}): give them as the "
                "s3_access_key_id/s3_secret_access_key options or leave them to the AWS credential chain"
            )
        if "://" not in url:
            return url.rstrip("/"), "http" if allow else "https"
        parts = urlsplit(url)
        if parts.path not in ("", "/"):
            raise ConfigError(f"S3 endpoint URL must not have a path: {shown}")
        if parts.scheme == "http" and allow is False:
            raise ConfigError(f"S3 endpoint {shown} is plain HTTP and s3_allow_http is false")
        if parts.scheme not in ("http", "https"):
            raise ConfigError(f"S3 endpoint URL must be http:// or https://, not {shown}")
        return parts.netloc, parts.scheme

    def _s3_region(self) -> str | None:
        """Explicit option > what the AWS configuration says (environment, profile, ~/.aws/config) >
        the bucket's own region as S3 reports it (AWS only: one anonymous request), so a bucket works
        without any region configured. None leaves it to the SDKs' defaults."""
        o = self.options
        if o.s3_region:
            return o.s3_region
        if self._has_boto3():
            configured = self._boto_session().region_name
        else:
            configured = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if configured or o.s3_endpoint_url:
            return configured or None
        try:
            return pafs.resolve_s3_region(self._bucket)
        except Exception:  # offline, HeadBucket refused...: the SDK default applies
            return None

    def _make_s3_fs(self) -> pafs.S3FileSystem:
        o = self.options
        host, scheme = self._s3_endpoint()
        self._region = self._s3_region()
        kwargs: dict[str, Any] = {
            "region": self._region,
            "scheme": scheme,
            "endpoint_override": host,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=o.s3_max_attempts),
        }
        if o.s3_access_key_id:
            kwargs.update(
                access_key=o.s3_access_key_id, secret_key=o.s3_secret_access_key, session_token=o.s3_session_token
            )
        elif o.s3_profile:
            # pyarrow's S3FileSystem has no profile parameter: resolve the profile with boto3 once.
            creds = self._boto_session().get_credentials()
            if creds is None:
                raise StorageError("access", self.uri, f"AWS profile {o.s3_profile!r} has no credentials")
            frozen = creds.get_frozen_credentials()
            kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        try:
            return pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})
        except (OSError, pa.ArrowException) as exc:
            raise StorageError("access", self.uri, str(exc)) from exc

    def _init_other(self, uri: str, kind: str, *, native_first: bool) -> None:
        """gs:// and abfs:// resolve to pyarrow's native filesystem or an fsspec one wrapped for pyarrow.

        Not exercised by the test suite (no such service here); writes use the temp-object + move path.
        The raw ``uri`` (which may carry ``?account_key=...``, ``?access_token=...`` or ``user:pw@``) only
        reaches the filesystem constructors; ``self.uri`` and every message get the redacted form.
        """
        # Azure's URIs name the container as the user (abfs://container@account...): keep that part.
        redacted, secrets = _redact_uri(uri, keep_user=kind == "azure")
        base, sep, query = redacted.partition("?")
        self.uri, self.kind, self._uri_query = base.rstrip("/") + sep + query, kind, sep + query
        raw_query = urlsplit(uri).query
        errors: list[str] = []
        attempts = (self._native_fs, self._fsspec_fs) if native_first else (self._fsspec_fs, self._native_fs)
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
            self.fs, self.root = fs, root
            return
        extra = {"gcs": "gcs", "azure": "azure"}.get(kind)
        hint = f" (pip install 'cassandra-bulk[{extra}]')" if extra else ""
        raise StorageError("open", self.uri, "; ".join(errors) + hint)

    @staticmethod
    def _native_fs(uri: str) -> tuple[pafs.FileSystem, str]:
        return pafs.FileSystem.from_uri(uri)

    @staticmethod
    def _fsspec_fs(uri: str) -> tuple[pafs.FileSystem, str]:
        import fsspec

        ffs, path = fsspec.core.url_to_fs(uri)
        return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), path

    # -- boto3 (S3 writes and deletes) -----------------------------------------------------------

    @staticmethod
    def _has_boto3() -> bool:
        try:
            import boto3  # noqa: F401
        except ImportError:
            return False
        return True

    def _boto_session(self) -> Any:
        import boto3
        from botocore.exceptions import ProfileNotFound

        o = self.options
        try:
            return boto3.session.Session(
                aws_access_key_id=o.s3_access_key_id,
                aws_secret_access_key=o.s3_secret_access_key,
                aws_session_token=o.s3_session_token,
                profile_name=o.s3_profile,
                region_name=o.s3_region,
            )
        except ProfileNotFound:
            raise ConfigError(f"AWS profile {o.s3_profile!r} not found in the AWS config files") from None

    def _s3_client(self) -> Any:
        """One thread-safe boto3 client per Storage, made on first write/delete and shared by all threads."""
        with self._client_lock:
            if self._client is None:
                from botocore.config import Config

                host, scheme = self._s3_endpoint()
                cfg: dict[str, Any] = {
                    "max_pool_connections": 64,
                    "retries": {"mode": "standard", "max_attempts": self.options.s3_max_attempts},
                }
                if host:
                    cfg["s3"] = {"addressing_style": "path"}
                if not self._flexible_checksums:
                    # S3-compatible servers often reject the CRC headers boto3 >= 1.36 sends by default.
                    cfg.update(
                        request_checksum_calculation="when_required", response_checksum_validation="when_required"
                    )
                try:
                    config = Config(**cfg)
                except TypeError:  # botocore < 1.36 has neither option and sends no such headers
                    cfg.pop("request_checksum_calculation", None)
                    cfg.pop("response_checksum_validation", None)
                    config = Config(**cfg)
                self._client = self._boto_session().client(
                    "s3",
                    endpoint_url=f"{scheme}://{host}" if host else None,
                    region_name=self._region,
                    config=config,
                )
            return self._client

    def _sse_args(self) -> dict[str, str]:
        o = self.options
        args = {"ServerSideEncryption": o.s3_sse} if o.s3_sse else {}
        if o.s3_sse_kms_key_id:
            args["SSEKMSKeyId"] = o.s3_sse_kms_key_id
        return args

    # -- paths ---------------------------------------------------------------------------------

    def _rel(self, relpath: str, *, allow_empty: bool = False) -> str:
        rel = relpath.replace("\\", "/").strip("/")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ValueError(f"path must stay inside {self.uri}: {relpath!r}")
        if not parts and not allow_empty:
            raise ValueError("empty path")
        return "/".join(parts)

    def _full(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"{self.root.rstrip('/')}/{rel}"

    def _key(self, rel: str) -> str:
        return f"{self._key_prefix}/{rel}" if self._key_prefix else rel

    def uri_of(self, relpath: str) -> str:
        """The full URI (local: absolute path) of a file, for manifests and messages."""
        rel = self._rel(relpath, allow_empty=True)
        if self.kind == "local":
            return self._full(rel)
        if not rel:
            return self.uri
        base = self.uri[: len(self.uri) - len(self._uri_query)]
        return f"{base}/{rel}{self._uri_query}"

    def _error(self, action: str, relpath: str, exc: BaseException) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        return StorageError(action, self.uri_of(relpath), _reason(exc, self._bucket))

    # -- writing -------------------------------------------------------------------------------

    def open_atomic(self, relpath: str, compression: str | None = None) -> AtomicWrite:
        """Write ``relpath`` so it appears whole or not at all: ``with storage.open_atomic(p) as f:``.

        The block gets a writable ``pa.NativeFile`` (wrapped in ``pa.CompressedOutputStream`` when
        ``compression`` is gzip, zstd or bz2). Leaving the block normally publishes the file; an
        exception (or a crash) discards it and leaves any previous version at ``relpath`` in place.
        Concurrent writers of one path each publish a complete file; the last to finish wins.
        Raises :class:`StorageError` when the destination cannot be written. Once published, the
        returned object's :attr:`AtomicWrite.bytes_written` is the stored size (no extra request).
        """
        return AtomicWrite(self, self._rel(relpath), _codec(compression))

    def _begin(self, rel: str) -> _PendingWrite:
        if self._publish == "rename":
            return _LocalRename(self._full(rel))
        if self._publish == "multipart":
            return _S3Upload(
                self._s3_client(),
                self.uri_of(rel),
                self._bucket,
                self._key(rel),
                self._sse_args(),
                self.options.s3_part_size,
                self.options.s3_max_in_flight,
            )
        return _CopyPublish(self.fs, self._full(rel))

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Atomically replace ``relpath`` with ``data``."""
        with self.open_atomic(relpath) as f:
            f.write(data)

    def check_writable(self) -> None:
        """Fail fast (StorageError) if the destination refuses writes, before any work is done."""
        probe = f".cassandra-bulk-probe-{uuid.uuid4().hex}"
        self.write_bytes(probe, b"")
        self.delete(probe)

    # -- reading -------------------------------------------------------------------------------

    def open_input(self, relpath: str) -> pa.NativeFile:
        """A seekable input file (what pyarrow's Parquet reader needs); FileNotFoundError if absent."""
        rel = self._rel(relpath)
        try:
            return self.fs.open_input_file(self._full(rel))
        except FileNotFoundError:
            raise
        except Exception as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(self.uri_of(rel)) from exc
            raise self._error("read", rel, exc) from exc

    def read_bytes(self, relpath: str) -> bytes | None:
        """The whole file, or None if there is none (small files: markers, manifests)."""
        try:
            with self.open_input(relpath) as f:
                return f.read()
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", self._rel(relpath), exc) from exc

    def _info(self, rel: str) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(self._full(rel))
        except Exception as exc:
            raise self._error("read", rel, exc) from exc

    def exists(self, relpath: str) -> bool:
        """True if a file (not a directory) is at ``relpath``."""
        return self._info(self._rel(relpath)).type == pafs.FileType.File

    def size(self, relpath: str) -> int:
        """Size in bytes of the file at ``relpath``; FileNotFoundError if there is none."""
        rel = self._rel(relpath)
        info = self._info(rel)
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(self.uri_of(rel))
        return int(info.size or 0)

    def list(self, prefix: str = "") -> list[str]:
        """Files under the directory ``prefix`` (recursive, sorted), as paths relative to the root.

        In-progress/abandoned temp files of atomic writes and S3 directory markers are left out.
        """
        rel = self._rel(prefix, allow_empty=True)
        base = self._full(rel)
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except NotADirectoryError:
            return []
        except Exception as exc:
            if _is_not_found(exc):
                return []
            raise self._error("list", rel, exc) from exc
        cut = len(self.root.rstrip("/")) + 1
        out = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            path = info.path[cut:] if info.path.startswith(self.root) else info.path
            if any(_TEMP_RE.match(part) for part in path.split("/")):
                continue
            out.append(path)
        return sorted(out)

    # -- deleting ------------------------------------------------------------------------------

    def delete(self, relpath: str) -> None:
        """Remove the file at ``relpath``; already absent is fine (retries call this again)."""
        rel = self._rel(relpath)
        try:
            if self._publish == "multipart":
                # boto3, not pyarrow: pyarrow re-creates an empty "dir/" marker object when it deletes
                # the last file of a prefix, which would litter the bucket.
                self._s3_client().delete_object(Bucket=self._bucket, Key=self._key(rel))
            else:
                self.fs.delete_file(self._full(rel))
        except FileNotFoundError:
            return
        except Exception as exc:
            if _is_not_found(exc):
                return
            raise self._error("delete", rel, exc) from exc

    def delete_prefix(self, prefix: str) -> None:
        """Remove every file under the directory ``prefix`` (``""``: everything under the root)."""
        rel = self._rel(prefix, allow_empty=True)
        try:
            if self._publish == "multipart":
                self._s3_delete_prefix(rel)
            elif rel:
                if self.fs.get_file_info(self._full(rel)).type == pafs.FileType.Directory:
                    self.fs.delete_dir(self._full(rel))
            else:
                self.fs.delete_dir_contents(self.root, missing_dir_ok=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error("delete", rel, exc) from exc

    def _s3_delete_prefix(self, rel: str) -> None:
        client = self._s3_client()
        key_prefix = self._key(rel) if rel else self._key_prefix
        listing_prefix = f"{key_prefix}/" if key_prefix else ""
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=listing_prefix)
        for page in pages:
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:  # list_objects_v2 pages hold at most 1,000 keys: DeleteObjects' limit
                resp = client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})
                if resp.get("Errors"):
                    err = resp["Errors"][0]
                    raise StorageError(
                        "delete", f"s3://{self._bucket}/{err.get('Key')}", f"{err.get('Code')}: {err.get('Message')}"
                    )
        # Incomplete multipart uploads (a killed writer's) are invisible to listings but billed.
        uploads = client.get_paginator("list_multipart_uploads").paginate(Bucket=self._bucket, Prefix=listing_prefix)
        for page in uploads:
            for upload in page.get("Uploads", []):
                try:
                    client.abort_multipart_upload(Bucket=self._bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                except Exception as exc:
                    if "NoSuchUpload" not in str(exc):  # completed or aborted meanwhile
                        raise


# -- atomic write strategies -----------------------------------------------------------------------


class AtomicWrite:
    """The context manager :meth:`Storage.open_atomic` returns; ``__enter__`` gives the stream.

    After the block exits normally the file is published and :attr:`bytes_written` holds its size as
    stored (after compression), so callers need no ``size()`` request::

        cm = storage.open_atomic("part.csv", compression="gzip")
        with cm as f:
            f.write(data)
        size = cm.bytes_written
    """

    bytes_written: int | None = None
    """Size of the published file in bytes; None until the block has exited normally."""

    def __init__(self, storage: Storage, rel: str, codec: str | None):
        self._storage, self._rel, self._codec = storage, rel, codec
        self._pending: _PendingWrite | None = None
        self._outer: pa.NativeFile | None = None

    def __enter__(self) -> pa.NativeFile:
        if self._pending is not None:
            raise RuntimeError("an atomic write can only be entered once")
        try:
            pending = self._storage._begin(self._rel)
        except Exception as exc:
            raise self._storage._error("write", self._rel, exc) from exc
        try:
            outer = pa.CompressedOutputStream(pending.stream, self._codec) if self._codec else pending.stream
        except BaseException:
            pending.abort(pending.stream)  # nothing may stay behind, not even a local temp file
            raise
        self._pending, self._outer = pending, outer
        return outer

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        pending, outer = self._pending, self._outer
        if pending is None or outer is None:
            return
        self._outer = None  # exactly one commit or abort
        if exc_type is not None:
            pending.abort(outer)
            return
        try:
            outer.close()  # flushes buffers and the compression trailer into the pending write
            pending.commit()
        except BaseException as err:
            pending.abort(outer)
            if isinstance(err, Exception) and _is_storage_failure(err):
                raise self._storage._error("write", self._rel, err) from err
            raise
        self.bytes_written = pending.written


def _temp_name(path: str) -> str:
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}.tmp-{uuid.uuid4().hex}")


def _close_quietly(stream: pa.NativeFile) -> None:
    with contextlib.suppress(Exception):
        stream.close()


class _LocalRename:
    """Local files: write a hidden temp file next to the target, fsync it, ``os.replace`` it in.

    Same directory so the rename never crosses filesystems (where it would stop being atomic); fsync
    before the rename so a power loss cannot publish a name pointing at unwritten blocks; the directory
    is fsync'd after so the rename itself is durable.
    """

    def __init__(self, path: str):
        self.path = path
        self.tmp = _temp_name(path)
        self.written = 0
        os.makedirs(posixpath.dirname(path) or ".", exist_ok=True)
        self.stream = pafs.LocalFileSystem().open_output_stream(self.tmp)

    def commit(self) -> None:
        self.stream.close()
        fd = os.open(self.tmp, os.O_RDWR)
        try:
            os.fsync(fd)
            self.written = os.fstat(fd).st_size
        finally:
            os.close(fd)
        os.replace(self.tmp, self.path)
        if os.name != "nt":
            dfd = os.open(posixpath.dirname(self.path) or ".", os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def abort(self, outer: pa.NativeFile) -> None:
        _close_quietly(outer)
        _close_quietly(self.stream)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


class _CopyPublish:
    """Object stores without an abortable writer (gs://, abfs://, S3 without boto3): write a hidden temp
    object, then move it to the final name (a server-side copy + delete on object stores).

    Needed because closing a pyarrow output stream always commits it, even when the ``with`` block
    raised (apache/arrow#40502), so writing the final name directly could publish a truncated file.
    Costs a second, server-side copy; on S3 pyarrow copies with one CopyObject call (5 GiB limit).
    """

    def __init__(self, fs: pafs.FileSystem, path: str):
        self.fs, self.path, self.tmp = fs, path, _temp_name(path)
        self.written = 0
        self.stream = fs.open_output_stream(self.tmp)

    def commit(self) -> None:
        self.stream.close()
        self.written = int(self.fs.get_file_info(self.tmp).size or 0)  # the stream is closed: ask the store
        try:
            self.fs.move(self.tmp, self.path)
        except (NotImplementedError, pa.ArrowNotImplementedError):
            self.fs.copy_file(self.tmp, self.path)
            self.fs.delete_file(self.tmp)

    def abort(self, outer: pa.NativeFile) -> None:
        _close_quietly(outer)
        _close_quietly(self.stream)  # this publishes the temp object...
        with contextlib.suppress(Exception):
            self.fs.delete_file(self.tmp)  # ...which goes again here; a crash leaves only a hidden temp


class _S3Upload:
    """Streams one S3 object to its final key as a multipart upload that an exception aborts.

    Why boto3 and not ``S3FileSystem.open_output_stream``: pyarrow's stream also writes a multipart
    upload (fixed 10 MiB parts, so at most ~98 GiB per object), but ``NativeFile.__exit__`` and its
    destructor always *complete* it, and the C++ ``Abort()`` is not exposed to Python
    (apache/arrow#40502; verified against moto: a ``with`` block that raises leaves a truncated object).
    The temp-key + copy workaround writes everything twice and pyarrow copies with a single CopyObject
    (5 GiB limit). pyarrow's S3 client also cannot request SSE-S3/SSE-KMS. So:

    * a file smaller than one part goes up as one PutObject at commit (nothing to abort before that);
    * otherwise parts of ``part_size`` are uploaded as they fill, ``max_in_flight`` at a time in the
      background, and CompleteMultipartUpload at commit publishes the object in one step;
    * on abort the part uploads still running are waited for first (a part that lands after
      AbortMultipartUpload would be kept, invisible and billed), then the upload is aborted, so the
      key is untouched. A killed process leaves an incomplete, invisible upload: an
      ``AbortIncompleteMultipartUpload`` lifecycle rule on the bucket reclaims it (and
      :meth:`Storage.delete_prefix` aborts those under its prefix).
    """

    def __init__(
        self, client: Any, uri: str, bucket: str, key: str, extra: dict[str, str], part_size: int, max_in_flight: int
    ):
        self.client, self.uri, self.bucket, self.key, self.extra = client, uri, bucket, key, extra
        self.part_size, self.max_in_flight = part_size, max_in_flight
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._next_part = 1
        self._pending: deque[Future[dict[str, Any]]] = deque()
        self._done: list[dict[str, Any]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._aborted = False
        self._position = 0
        self.written = 0
        raw = _UploadSink(self)
        self.stream: pa.NativeFile = pa.BufferedOutputStream(pa.PythonFile(raw, mode="w"), _WRITE_BUFFER)

    # called by _UploadSink through pyarrow's PythonFile
    def write(self, data: bytes) -> int:
        if self._aborted:
            return len(data)  # the upload is gone; late flushes while closing are discarded
        try:
            return self._write(data)
        except StorageError:
            raise
        except Exception as exc:  # pyarrow re-raises it unchanged out of the caller's write()
            raise StorageError("write", self.uri, _reason(exc, self.bucket)) from exc

    def _write(self, data: bytes) -> int:
        view = memoryview(data)
        self._position += len(view)
        while view:  # the buffer never exceeds one part, however large the write
            take = self.part_size - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == self.part_size:
                self._submit(bytes(self._buf))
                self._buf.clear()
        return len(data)

    def tell(self) -> int:
        return self._position

    def _submit(self, chunk: bytes) -> None:
        if self._upload_id is None:
            resp = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.extra)
            self._upload_id = resp["UploadId"]
            self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="s3-part")
        if self._next_part > S3_MAX_PARTS:
            raise StorageError(
                "write", self.uri, f"object exceeds {S3_MAX_PARTS} parts of {self.part_size} bytes; raise s3_part_size"
            )
        while len(self._pending) >= self.max_in_flight:
            self._take_oldest()  # also surfaces a failed part now
        assert self._pool is not None
        self._pending.append(self._pool.submit(self._upload_part, self._next_part, chunk))
        self._next_part += 1

    def _take_oldest(self) -> None:
        # Wait before popping: an interrupted wait leaves the future where abort() still sees it.
        self._done.append(self._pending[0].result())
        self._pending.popleft()

    def _upload_part(self, number: int, chunk: bytes) -> dict[str, Any]:
        resp = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=chunk
        )
        part = {"PartNumber": number, "ETag": resp["ETag"]}
        # With flexible checksums on (boto3 >= 1.36 against AWS) each part's checksum must be repeated
        # in CompleteMultipartUpload.
        part.update({k: v for k, v in resp.items() if k.startswith("Checksum") and k != "ChecksumType"})
        return part

    def commit(self) -> None:
        self.stream.close()
        self.written = self._position
        if self._upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buf), **self.extra)
            self._buf.clear()
            return
        if self._buf:
            self._submit(bytes(self._buf))
            self._buf.clear()
        while self._pending:
            self._take_oldest()
        parts = sorted(self._done, key=lambda p: p["PartNumber"])
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
        )
        self._shutdown()

    def abort(self, outer: pa.NativeFile) -> None:
        self._aborted = True
        # First let every part still uploading finish (queued ones are cancelled): one that landed
        # after AbortMultipartUpload would be stored, invisible, until a lifecycle rule removes it.
        self._shutdown(cancel=True)
        self._pending.clear()
        self._buf.clear()
        if self._upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            except Exception as exc:  # the object is still not published; only storage is left behind
                log.warning("could not abort multipart upload of s3://%s/%s: %s", self.bucket, self.key, exc)
        _close_quietly(outer)
        _close_quietly(self.stream)

    def _shutdown(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None


class _UploadSink:
    """The Python file object pyarrow's PythonFile writes into. ``close()`` does *not* commit: closing
    happens on success and failure alike (and from destructors); only ``_S3Upload.commit`` publishes."""

    closed = False

    def __init__(self, upload: _S3Upload):
        self._upload = upload

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        return self._upload.write(data)

    def tell(self) -> int:
        return self._upload.tell()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


# -- helpers ---------------------------------------------------------------------------------------


def _codec(compression: str | None) -> str | None:
    if compression in (None, "none"):
        return None
    if compression not in COMPRESSIONS:
        raise ConfigError(f"unknown stream compression {compression!r}; one of {', '.join(COMPRESSIONS)}")
    return compression


def _redact_uri(uri: str, *, keep_user: bool = False) -> tuple[str, list[str]]:
    """(``uri`` with its userinfo and every query value shown as ``***``, the secret strings it held).

    ``keep_user`` keeps a userinfo without password (Azure's ``abfs://container@account/...``) and
    masks only the password. A URI with nothing to mask comes back unchanged.
    """
    parts = urlsplit(uri)
    secrets: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if keep_user:
            secrets.append(password)
            netloc = f"{user}:***@{host}" if colon else netloc
        else:
            secrets += [userinfo, password]
            netloc = f"***@{host}"
    query = []
    for item in parts.query.split("&") if parts.query else ():
        key, eq, value = item.partition("=")
        secrets.append(value if eq else key)
        query.append(f"{key}=***" if eq else "***")
    if parts.fragment:
        secrets.append(parts.fragment)
    if netloc == parts.netloc and not query and not parts.fragment:
        return uri, []
    redacted = urlunsplit((parts.scheme, netloc, parts.path, "&".join(query), "***" if parts.fragment else ""))
    return redacted, [s for s in secrets if s]


def _redact_endpoint(url: str) -> str:
    """An S3 endpoint (``https://user:pw@host:port`` or ``host:port``) with its userinfo masked."""
    if "://" in url:
        return _redact_uri(url)[0]
    return _redact_uri(f"//{url}")[0][2:]


def _scrub(text: str, raw: str, redacted: str, secrets: list[str]) -> str:
    """``text`` (a backend's error message) with the raw URI and each secret of it masked."""
    text = text.replace(raw, redacted)
    for secret in sorted({*secrets, *map(unquote, secrets)}, key=len, reverse=True):
        if len(secret) >= 4:  # shorter values are no credential; masking them would garble the text
            text = text.replace(secret, "***")
    return text


def _is_storage_failure(exc: Exception) -> bool:
    if isinstance(exc, (OSError, pa.ArrowException, StorageError)):
        return True
    mod = type(exc).__module__
    return mod.startswith(("botocore", "boto3", "s3transfer"))


def _is_not_found(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    text = str(exc)
    return "Path does not exist" in text or "NoSuchKey" in text or "NOT_FOUND" in text


def _reason(exc: BaseException, bucket: str = "") -> str:
    """A short human reason from whatever the backend raised (OSError, pyarrow, botocore)."""
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or str(exc)
    else:
        message = str(exc)
    text = f"{code} {message}"
    name = type(exc).__name__
    if "NoSuchBucket" in text or "NO_SUCH_BUCKET" in text or "bucket does not exist" in text.lower():
        return f"bucket {bucket!r} does not exist" if bucket else "bucket does not exist"
    if code in ("AccessDenied", "403", "Forbidden") or "ACCESS_DENIED" in text:
        return f"access denied ({message})" if message and message != code else "access denied"
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found (set s3 keys, a profile, or the AWS_* environment)"
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError") or (
        "NETWORK_CONNECTION" in text or "Couldn't connect" in text
    ):
        return f"cannot reach the S3 endpoint ({message})"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    if code:
        return f"{code}: {message}"
    message = re.sub(r"\s*\(Request ID: [^)]*\)", "", message)
    return message or name
