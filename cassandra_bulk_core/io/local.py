"""Local disk (a path or ``file://`` URI): where the root is, and the temp file + ``os.replace`` publish."""

from __future__ import annotations

import contextlib
import os
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import pyarrow as pa
import pyarrow.fs as pafs

from ..errors import ConfigError
from .atomic import _close_quietly, _temp_name
from .errors import _redact_uri


def local_root(uri: str, scheme: str) -> str:
    """The absolute POSIX path a local path or ``file://`` URI names (``~`` expanded)."""
    if scheme == "file":
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"file URI with a remote host is not supported: {_redact_uri(uri)[0]}")
        path = url2pathname(unquote(parts.path))
    else:
        path = uri
    return Path(path).expanduser().absolute().as_posix()


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
