"""S3 writes that an exception aborts: one multipart upload per file, parts uploaded in the background."""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from .atomic import _close_quietly
from .errors import StorageError, _reason
from .options import MIB, S3_MAX_PARTS

log = logging.getLogger(__name__)

_WRITE_BUFFER = 1 * MIB  # batches small writes before they cross into Python for the S3 upload


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
