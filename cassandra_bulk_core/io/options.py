"""How to reach object storage: :class:`StorageOptions`, from code or ``CASSANDRA_BULK_*`` variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .errors import _redact_endpoint

ENV_PREFIX = "CASSANDRA_BULK_"
COMPRESSIONS = ("gzip", "zstd", "bz2")
SSE_MODES = ("AES256", "aws:kms")

MIB = 1024 * 1024
S3_MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
S3_MAX_PART_SIZE = 5 * 1024 * MIB
S3_MAX_PARTS = 10_000
DEFAULT_PART_SIZE = 16 * MIB  # x 10,000 parts = 156 GiB per object (pyarrow's fixed 10 MiB gives ~98 GiB)

_SECRET_FIELDS = ("s3_secret_access_key", "s3_session_token")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


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
