"""AWS S3 Tables as an Iceberg catalog (catalog property ``type=s3tables``), through the S3 Tables API.

Why a catalog of our own: pyiceberg has no ``s3tables`` catalog type. AWS offers two ways in: the
Iceberg REST endpoint (``https://s3tables.<region>.amazonaws.com/iceberg``, SigV4-signed) and the
S3 Tables management API (``CreateTable``, ``GetTableMetadataLocation``, ``UpdateTableMetadataLocation``
with a version token), which is what AWS's own Java ``S3TablesCatalog`` is built on. The default
here is the API (``s3tables.catalog=api``): a small :class:`S3TablesCatalog` commits by swapping the
metadata location under the table's version token, so concurrent range commits stay optimistic
exactly as on the other catalogs (a stale token is a :class:`CommitFailedException`, retried by
``commit.py``). ``s3tables.catalog=rest`` opens pyiceberg's REST catalog on the AWS endpoint with
SigV4 instead. Either way the table bucket is created through the S3 Tables API when missing
(idempotent when present, tolerant of another worker creating it at the same time); the namespace is
created like on any catalog, which here is S3 Tables' ``CreateNamespace`` (``rest``: the endpoint's).

Catalog properties (besides pyiceberg's ``s3.*`` for the data files):

| key | meaning |
|---|---|
| ``s3tables.table-bucket-arn`` or ``warehouse`` (an ARN) | the table bucket; created when missing |
| ``s3tables.table-bucket`` | the table bucket by name (in the client's account and region) |
| ``s3tables.region``, ``s3tables.endpoint`` | the API's region and endpoint (default: ``client.region``, AWS) |
| ``s3tables.access-key-id``, ``.secret-access-key``, ``.session-token`` | credentials (default: ``client.*``) |
| ``s3tables.max-retries``, ``s3tables.retry-mode`` | botocore retries (default: 4, ``standard``) |
| ``s3tables.catalog`` | ``api`` (default) or ``rest`` |

Table buckets refuse listing and deleting objects: metadata files are written without pyiceberg's
existence check (their names are unique), the tables' FileIO skips deletes, and the export skips
its per-range leftover cleanup (S3 Tables' own unreferenced-file removal covers what a dead attempt
left; ``iceberg-maintenance``'s orphan removal, which lists, does not work there).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

TYPE = "s3tables"
BUCKET_ARN = "s3tables.table-bucket-arn"
BUCKET_NAME = "s3tables.table-bucket"
REGION = "s3tables.region"
ENDPOINT = "s3tables.endpoint"
IMPL = "s3tables.catalog"
MAX_RETRIES = "s3tables.max-retries"
RETRY_MODE = "s3tables.retry-mode"
_CREDENTIALS = {"access-key-id": "aws_access_key_id", "secret-access-key": "aws_secret_access_key"}
_CREDENTIALS["session-token"] = "aws_session_token"


def open_s3tables_catalog(name: str, props: Mapping[str, str]) -> Catalog:
    """The catalog for ``type=s3tables`` properties, its table bucket created first when missing.

    :param name: the catalog's name (pyiceberg's, shown in its messages)
    :param props: the catalog properties (see the module docstring)
    :raises ConfigError: no table bucket named, an unknown ``s3tables.catalog``, an S3 Tables API
        that refuses (one line: the operation and AWS's reason)"""
    impl = props.get(IMPL, "api")
    if impl not in ("api", "rest"):
        raise ConfigError(f"catalog property {IMPL}={impl!r}: use api or rest")
    client = s3tables_client(props)
    arn = ensure_table_bucket(client, _bucket_name(props), props.get(BUCKET_ARN) or _arn_warehouse(props))
    if impl == "rest":
        from pyiceberg.catalog.rest import RestCatalog

        rest = rest_properties(props, arn, client.meta.region_name)
        try:
            return RestCatalog(name, **rest)
        except Exception as exc:  # pyiceberg's RESTError quotes the whole HTML/JSON answer, over many lines
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"S3 Tables Iceberg REST endpoint {rest['uri']}: {first[:300]}") from None
    from .s3tables_catalog import S3TablesCatalog

    return S3TablesCatalog(name, client, arn, **props)


def rest_properties(props: Mapping[str, str], arn: str, region: str) -> dict[str, str]:
    """pyiceberg REST catalog properties for the S3 Tables Iceberg endpoint (AWS's documented setup)."""
    out = {k: v for k, v in props.items() if not k.startswith("s3tables.") and k != "type"}
    out.update(
        {
            "uri": props.get("uri") or f"https://s3tables.{region}.amazonaws.com/iceberg",
            "warehouse": arn,
            "rest.sigv4-enabled": "true",
            "rest.signing-name": "s3tables",
            "rest.signing-region": region,
        }
    )
    return out


def s3tables_client(props: Mapping[str, str]) -> Any:
    """A boto3 ``s3tables`` client from ``s3tables.*`` (else ``client.*``) properties."""
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import UnknownServiceError
    except ImportError:
        raise ConfigError("S3 Tables needs boto3, which is not installed: pip install 'cassandra-bulk[s3]'") from None
    kwargs: dict[str, Any] = {}
    for key, arg in _CREDENTIALS.items():
        value = props.get(f"s3tables.{key}") or props.get(f"client.{key}")
        if value:
            kwargs[arg] = value
    region = props.get(REGION) or props.get("client.region") or _arn_region(props)
    if region:
        kwargs["region_name"] = region
    if props.get(ENDPOINT):
        kwargs["endpoint_url"] = props[ENDPOINT]
    try:
        retries = {"max_attempts": int(props.get(MAX_RETRIES, "4")), "mode": props.get(RETRY_MODE, "standard")}
    except ValueError:
        raise ConfigError(f"catalog property {MAX_RETRIES}={props[MAX_RETRIES]!r}: not a whole number") from None
    kwargs["config"] = Config(retries=retries)  # type: ignore[arg-type]
    try:
        return boto3.client("s3tables", **kwargs)
    except UnknownServiceError:
        raise ConfigError("this boto3 does not know S3 Tables: pip install -U boto3") from None
    except Exception as exc:  # no region, bad endpoint URL, ...
        raise ConfigError(f"S3 Tables client: {_reason(exc)}") from None


def ensure_table_bucket(client: Any, name: str | None, arn: str | None = None) -> str:
    """The ARN of the table bucket ``name`` (or ``arn``), created when it does not exist yet.

    Idempotent; a bucket created by another worker between our look-up and our create is found
    again (the API answers ``ConflictException``)."""
    if arn:
        try:
            _call(client, "get_table_bucket", f"table bucket {arn}", tableBucketARN=arn)
            return arn
        except _NotFound:
            name = name or arn.rsplit("/", 1)[-1]
    if not name:
        raise ConfigError(f"S3 Tables catalog: give {BUCKET_ARN}=<table bucket ARN> or {BUCKET_NAME}=<name>")
    found = _find_bucket(client, name)
    if found is None:
        try:
            found = str(_call(client, "create_table_bucket", f"table bucket {name}", name=name)["arn"])
        except _Conflict:
            found = _find_bucket(client, name)
    if found is None:
        raise ConfigError(f"S3 Tables table bucket {name}: neither found nor created")
    if arn and found != arn:
        raise ConfigError(f"S3 Tables table bucket {arn}: not reachable with these credentials/region (found {found})")
    return found


def ensure_s3tables_namespace(client: Any, bucket_arn: str, namespace: str) -> bool:
    """Create ``namespace`` in the table bucket unless it exists; True when this call created it."""
    if _namespace(client, bucket_arn, namespace) is not None:
        return False
    try:
        _call(client, "create_namespace", f"namespace {namespace}", tableBucketARN=bucket_arn, namespace=[namespace])
    except _Conflict:
        return False  # another worker created it first
    return True


def _find_bucket(client: Any, name: str) -> str | None:
    for page in _pages(client, "list_table_buckets", "tableBuckets", "table buckets", prefix=name):
        if page["name"] == name:
            return str(page["arn"])
    return None


def _namespace(client: Any, bucket_arn: str, namespace: str) -> dict[str, Any] | None:
    try:
        return dict(
            _call(client, "get_namespace", f"namespace {namespace}", tableBucketARN=bucket_arn, namespace=namespace)
        )
    except _NotFound:
        return None


def _pages(client: Any, op: str, key: str, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        extra = {"continuationToken": token} if token else {}
        page = _call(client, op, what, **kwargs, **extra)
        yield from page.get(key, [])
        token = page.get("continuationToken")
        if not token:
            return


class _NotFound(Exception):
    pass


class _Conflict(Exception):
    pass


def _call(client: Any, op: str, what: str, **kwargs: Any) -> Any:
    """One S3 Tables API call: not found and conflict as our own exceptions, anything else one line."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(client, op)(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NotFoundException", "NoSuchTableBucket", "NoSuchNamespace"):
            raise _NotFound(_reason(exc)) from None
        if code == "ConflictException":
            raise _Conflict(_reason(exc)) from None
        raise ConfigError(f"S3 Tables {op} ({what}): {_reason(exc)}") from None
    except BotoCoreError as exc:  # endpoint unreachable, no credentials, ...
        raise ConfigError(f"S3 Tables {op} ({what}): {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        err = response["Error"]
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip()
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _arn_warehouse(props: Mapping[str, str]) -> str | None:
    warehouse = props.get("warehouse", "")
    return warehouse if warehouse.startswith("arn:") else None


def _arn_region(props: Mapping[str, str]) -> str | None:
    arn = props.get(BUCKET_ARN) or _arn_warehouse(props) or ""
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else None


def _bucket_name(props: Mapping[str, str]) -> str | None:
    return props.get(BUCKET_NAME)
