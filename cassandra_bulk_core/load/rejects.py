"""Rejected records: ``rejects.<fmt>`` holds them as read (reloadable after a fix), ``errors.log`` their
reasons; counter writes of unknown outcome go to ``unknown.<fmt>`` / ``unknown.log``."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from ..sources import (
    Chunk,
    Reject,
)


class RejectLog:
    """``rejects.<fmt>`` holds the records as read; ``errors.log`` one JSON line per reason."""

    def __init__(
        self, directory: str, fmt: str, header: str | None, stem: str = "rejects", errors_name: str = "errors.log"
    ):
        """``stem="unknown"``: the counter writes of unknown outcome, kept apart from the rejects
        because reloading them may count them twice."""
        self.directory = directory
        suffix = {"csv": "csv", "jsonl": "jsonl"}.get(fmt, "jsonl")
        self.records_path = os.path.join(directory, f"{stem}.{suffix}")
        self.errors_path = os.path.join(directory, errors_name)
        self.header = header
        self.lock = threading.Lock()
        self._records: Any = None
        self._errors: Any = None
        self.count = 0

    def add(self, reject: Reject, kind: str) -> None:
        with self.lock:
            if self._records is None:
                self._records = open(self.records_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._errors = open(self.errors_path, "a", encoding="utf-8")  # noqa: SIM115
                if self.header is not None and self._records.tell() == 0:
                    self._records.write(self.header + "\n")
            self._records.write(reject.record.rstrip("\r\n") + "\n")
            entry = {
                "kind": kind,
                "resource": reject.resource,
                "record": reject.ordinal + 1,
                "field": reject.field,
                "reason": reject.reason,
            }
            self._errors.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.count += 1

    def close(self) -> None:
        with self.lock:
            for f in (self._records, self._errors):
                if f is not None:
                    f.close()
            self._records = self._errors = None


def _raw(chunk: Chunk, r: int) -> str:
    """The record's original text for the reject file; never fails the load over it."""
    if chunk.raw is None:
        return ""
    try:
        return chunk.raw(r)
    except Exception as exc:
        return f"<record {chunk.ordinals[r] + 1} of {chunk.resource}: cannot show it ({type(exc).__name__})>"
