"""The :class:`Storage` facade: one destination (local path, ``s3://``, ``gs://``, ``abfs://``...) that
every sink, source and manifest goes through, so the rules that make an export safe to read and
safe to retry live in one place:

* **Atomic publish.** A reader (or a resumed export) never sees a half-written file at its final
  name, and a write that fails or crashes leaves nothing there (an earlier complete version, if any,
  stays). Locally that is a hidden temp file in the same directory, fsync'd and ``os.replace``'d
  (:mod:`.local`). On S3 the data streams straight to the final key as a multipart upload, which S3
  only makes visible when it is completed; an exception aborts it instead (:mod:`.s3_upload` says
  why this is done with boto3 rather than pyarrow's own output stream).
* **Streaming.** Nothing buffers a whole file in memory: on S3 about ``s3_max_in_flight + 2`` parts
  of ``s3_part_size`` bytes per open file (the one filling, the one waiting, those uploading).
* **One-line errors.** An unwritable destination (permission denied, missing bucket, unreachable
  endpoint, no credentials) raises :class:`~.errors.StorageError` naming the URI and the reason,
  which the CLI prints without a traceback.

Reads, listings and sizes go through a ``pyarrow.fs.FileSystem`` (:attr:`Storage.fs`), which callers
may also hand to pyarrow readers directly.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from .atomic import _TEMP_RE, AtomicWrite, _codec, _CopyPublish, _PendingWrite
from .errors import StorageError, _is_not_found, _reason
from .fsspec_backends import open_fs
from .local import _LocalRename, local_root
from .options import StorageOptions
from .s3 import has_boto3, make_s3_client, make_s3_fs, s3_delete_prefix, split_s3_uri, sse_args
from .s3_upload import _S3Upload


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
        if self.kind == "s3" and not has_boto3():
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
        self.root = local_root(uri, scheme)
        self.fs = pafs.LocalFileSystem()
        self.uri = self.root
        self.kind = "local"

    def _init_s3(self, uri: str) -> None:
        self._bucket, self._key_prefix = split_s3_uri(uri)
        self.root = f"{self._bucket}/{self._key_prefix}" if self._key_prefix else self._bucket
        self.uri = f"s3://{self.root}"
        self.kind = "s3"
        self.fs, self._region = make_s3_fs(self.options, self.uri, self._bucket)

    def _init_other(self, uri: str, kind: str, *, native_first: bool) -> None:
        self.kind = kind
        opened = open_fs(uri, kind, native_first=native_first)
        self.fs, self.root, self.uri, self._uri_query = opened.fs, opened.root, opened.uri, opened.uri_query

    def _s3_client(self) -> Any:
        """One thread-safe boto3 client per Storage, made on first write/delete and shared by all threads."""
        with self._client_lock:
            if self._client is None:
                self._client = make_s3_client(self.options, self._region, self._flexible_checksums)
            return self._client

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
                sse_args(self.options),
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
                s3_delete_prefix(self._s3_client(), self._bucket, self._key(rel) if rel else self._key_prefix)
            elif rel:
                if self.fs.get_file_info(self._full(rel)).type == pafs.FileType.Directory:
                    self.fs.delete_dir(self._full(rel))
            else:
                self.fs.delete_dir_contents(self.root, missing_dir_ok=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise self._error("delete", rel, exc) from exc
