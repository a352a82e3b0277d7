"""S3 (and S3-compatible servers): URI and endpoint rules, region, credentials, the pyarrow filesystem
used for reads and listings, and the boto3 client used for writes and deletes.

Both clients get the same endpoint, region, credentials and retry budget from one
:class:`~.options.StorageOptions`. Unset credentials fall back to the standard AWS chain, which both
SDKs apply on their own; a named profile is resolved with boto3 once (pyarrow has no profile option).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs

from ..errors import ConfigError
from .errors import StorageError, _redact_endpoint, _redact_uri
from .options import StorageOptions


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of ``s3://bucket/prefix``; a URI with credentials or no bucket is refused."""
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
    return bucket, prefix


def s3_endpoint(options: StorageOptions) -> tuple[str | None, str]:
    """(host[:port] for pyarrow, scheme). The scheme comes from the endpoint URL, guarded by allow_http."""
    url, allow = options.s3_endpoint_url, options.s3_allow_http
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


def has_boto3() -> bool:
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return True


def boto_session(options: StorageOptions) -> Any:
    import boto3
    from botocore.exceptions import ProfileNotFound

    o = options
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


def s3_region(options: StorageOptions, bucket: str) -> str | None:
    """Explicit option > what the AWS configuration says (environment, profile, ~/.aws/config) >
    the bucket's own region as S3 reports it (AWS only: one anonymous request), so a bucket works
    without any region configured. None leaves it to the SDKs' defaults."""
    o = options
    if o.s3_region:
        return o.s3_region
    if has_boto3():
        configured = boto_session(o).region_name
    else:
        configured = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if configured or o.s3_endpoint_url:
        return configured or None
    try:
        return pafs.resolve_s3_region(bucket)
    except Exception:  # offline, HeadBucket refused...: the SDK default applies
        return None


def make_s3_fs(options: StorageOptions, uri: str, bucket: str) -> tuple[pafs.S3FileSystem, str | None]:
    """pyarrow's S3 filesystem for ``uri`` (reads, listings, sizes) and the region it was given."""
    o = options
    host, scheme = s3_endpoint(o)
    region = s3_region(o, bucket)
    kwargs: dict[str, Any] = {
        "region": region,
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
        creds = boto_session(o).get_credentials()
        if creds is None:
            raise StorageError("access", uri, f"AWS profile {o.s3_profile!r} has no credentials")
        frozen = creds.get_frozen_credentials()
        kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    try:
        return pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None}), region
    except (OSError, pa.ArrowException) as exc:
        raise StorageError("access", uri, str(exc)) from exc


def make_s3_client(options: StorageOptions, region: str | None, flexible_checksums: bool) -> Any:
    """A thread-safe boto3 S3 client with the same endpoint, region, credentials and retries."""
    from botocore.config import Config

    host, scheme = s3_endpoint(options)
    cfg: dict[str, Any] = {
        "max_pool_connections": 64,
        "retries": {"mode": "standard", "max_attempts": options.s3_max_attempts},
    }
    if host:
        cfg["s3"] = {"addressing_style": "path"}
    if not flexible_checksums:
        # S3-compatible servers often reject the CRC headers boto3 >= 1.36 sends by default.
        cfg.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    try:
        config = Config(**cfg)
    except TypeError:  # botocore < 1.36 has neither option and sends no such headers
        cfg.pop("request_checksum_calculation", None)
        cfg.pop("response_checksum_validation", None)
        config = Config(**cfg)
    return boto_session(options).client(
        "s3",
        endpoint_url=f"{scheme}://{host}" if host else None,
        region_name=region,
        config=config,
    )


def sse_args(options: StorageOptions) -> dict[str, str]:
    """Server-side encryption arguments for PutObject/CreateMultipartUpload."""
    args = {"ServerSideEncryption": options.s3_sse} if options.s3_sse else {}
    if options.s3_sse_kms_key_id:
        args["SSEKMSKeyId"] = options.s3_sse_kms_key_id
    return args


def s3_delete_prefix(client: Any, bucket: str, key_prefix: str) -> None:
    """Delete every object under ``key_prefix`` and abort the incomplete multipart uploads there."""
    listing_prefix = f"{key_prefix}/" if key_prefix else ""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=listing_prefix)
    for page in pages:
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:  # list_objects_v2 pages hold at most 1,000 keys: DeleteObjects' limit
            resp = client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            if resp.get("Errors"):
                err = resp["Errors"][0]
                raise StorageError(
                    "delete", f"s3://{bucket}/{err.get('Key')}", f"{err.get('Code')}: {err.get('Message')}"
                )
    # Incomplete multipart uploads (a killed writer's) are invisible to listings but billed.
    uploads = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=listing_prefix)
    for page in uploads:
        for upload in page.get("Uploads", []):
            try:
                client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except Exception as exc:
                if "NoSuchUpload" not in str(exc):  # completed or aborted meanwhile
                    raise
