"""Storage errors and their one-line reasons, with credentials kept out of every message.

:class:`StorageError` is what the CLI prints without a traceback; :func:`_reason` turns whatever a
backend raised (OSError, pyarrow, botocore) into a short human reason; ``_redact_*``/``_scrub``
mask the userinfo, query values and fragment of a URI wherever it is shown.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

import pyarrow as pa

from ..errors import BulkError


class StorageError(BulkError):
    """A destination cannot be written or read: one line naming the URI and the reason.

    Subclasses :class:`~cassandra_bulk_core.errors.BulkError` so the CLI prints it without a traceback.
    """

    def __init__(self, action: str, uri: str, reason: str):
        self.action, self.uri = action, uri
        self.reason = " ".join(str(reason).split())[:400] or "unknown error"
        super().__init__(f"cannot {action} {uri}: {self.reason}")


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
