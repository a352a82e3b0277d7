"""Atomic publish: :class:`AtomicWrite` (what :meth:`Storage.open_atomic` returns) and the pending-write
protocol each backend implements, plus the temp-object + move strategy for object stores that
cannot abort a write (gs://, abfs://, S3 without boto3).

A reader (or a resumed export) never sees a half-written file at its final name, and a write that
fails or crashes leaves nothing there (an earlier complete version, if any, stays). The local
strategy is in :mod:`.local`, the S3 multipart one in :mod:`.s3_upload`.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import uuid
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.fs as pafs

from ..errors import ConfigError
from .errors import StorageError, _is_storage_failure
from .fsspec_backends import client_failure
from .options import COMPRESSIONS

_TEMP_RE = re.compile(r"^\..+\.tmp-[0-9a-f]{32}$")


class _PendingWrite(Protocol):
    """One open atomic write: ``stream`` takes the bytes, then exactly one of commit/abort runs.
    ``commit`` sets ``written`` to the size of the published file."""

    stream: pa.NativeFile
    written: int

    def commit(self) -> None: ...

    def abort(self, outer: pa.NativeFile) -> None: ...


class _Publisher(Protocol):
    """What :class:`AtomicWrite` needs of its :class:`~.base.Storage`."""

    def _begin(self, rel: str) -> _PendingWrite: ...

    def _error(self, action: str, relpath: str, exc: BaseException) -> StorageError: ...


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

    def __init__(self, storage: _Publisher, rel: str, codec: str | None):
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
            failure = client_failure(exc) if isinstance(exc, Exception) and not _is_storage_failure(exc) else None
            if failure is not None:  # an Azure/GCS client error from a write in the block: one line
                raise self._storage._error("write", self._rel, failure) from exc
            return
        try:
            outer.close()  # flushes buffers and the compression trailer into the pending write
            pending.commit()
        except BaseException as err:
            pending.abort(outer)
            if isinstance(err, Exception) and _is_storage_failure(err):
                raise self._storage._error("write", self._rel, err) from err
            if isinstance(err, Exception) and (failure := client_failure(err)) is not None:
                raise self._storage._error("write", self._rel, failure) from err
            raise
        self.bytes_written = pending.written


def _temp_name(path: str) -> str:
    head, name = posixpath.split(path)
    return posixpath.join(head, f".{name}.tmp-{uuid.uuid4().hex}")


def _close_quietly(stream: pa.NativeFile) -> None:
    with contextlib.suppress(Exception):
        stream.close()


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


def _codec(compression: str | None) -> str | None:
    if compression in (None, "none"):
        return None
    if compression not in COMPRESSIONS:
        raise ConfigError(f"unknown stream compression {compression!r}; one of {', '.join(COMPRESSIONS)}")
    return compression
