"""An S3-compatible server on loopback for tests: moto in server mode, one per test session.

Server mode is a real HTTP server, so the code under test talks to it exactly as to S3 (pyarrow's C++
client and boto3 alike), unlike ``mock_aws`` which only patches boto3 in-process. Register the fixture
in a test module with ``from tests.s3_server import moto_s3  # noqa: F401`` (or in conftest.py).

Moto's server serves every AWS service on that one port (it tells them apart by the request's
signature), so Glue and S3 Tables clients use the same ``endpoint_url`` (:meth:`S3Server.aws_client`).
One difference from AWS is corrected while the fixture runs: moto's Glue ``UpdateTable`` ignores
``VersionId``, so concurrent Iceberg commits through pyiceberg's Glue catalog could silently overwrite
each other; :func:`_glue_checks_version_id` makes it answer ``ConcurrentModificationException`` for a
stale version, as Glue does (the optimistic lock pyiceberg relies on).

Caveat: moto keeps its state in process-global backends, so a test using ``moto.mock_aws`` in the same
session would reset them (and drop the bucket); such tests should use this fixture instead.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cassandra_bulk_core.io import StorageOptions

BUCKET = "test-bucket"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """Where the test S3 server listens, with credentials and ready-made StorageOptions for it."""

    endpoint_url: str
    bucket: str
    access_key_id: str
    secret_access_key: str
    region: str
    options: StorageOptions

    def uri(self, prefix: str | None = None) -> str:
        """``s3://test-bucket/<prefix>``; a fresh unique prefix by default so tests never collide."""
        return f"s3://{self.bucket}/{prefix or 't-' + uuid.uuid4().hex[:12]}"

    def client(self) -> Any:
        """A boto3 client for inspecting the server independently of the code under test."""
        return self.aws_client("s3")

    def aws_client(self, service: str) -> Any:
        """A boto3 client for any service moto serves on this endpoint (``s3``, ``glue``, ``s3tables``, ...)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )


GLUE_CONFLICTS: list[str] = []
"""``Database.Table`` of every Glue update refused for a stale ``VersionId`` (see below)."""
_glue_lock = threading.Lock()


def _glue_checks_version_id() -> None:
    """Make moto's Glue ``UpdateTable`` refuse a stale ``VersionId`` like AWS Glue does.

    pyiceberg's Glue catalog reads the table (metadata location + ``VersionId``), writes new
    metadata, then calls ``UpdateTable(VersionId=...)``: Glue answers ``ConcurrentModificationException``
    when another commit came in between, pyiceberg raises ``CommitFailedException`` and the writer
    retries. moto 5 ignores ``VersionId``, so without this a lost update would go unnoticed. The
    check and the update run under one lock: moto's server handles requests on several threads."""
    from moto.core.exceptions import JsonRESTError
    from moto.glue.responses import GlueResponse

    if getattr(GlueResponse.update_table, "_checks_version_id", False):
        return
    original = GlueResponse.update_table

    def update_table(self: Any) -> Any:
        version = self.parameters.get("VersionId")
        database = self.parameters.get("DatabaseName")
        name = (self.parameters.get("TableInput") or {}).get("Name")
        with _glue_lock:
            if version is not None:
                current = self.glue_backend.get_table(database, name).as_dict()["VersionId"]
                if str(current) != str(version):
                    GLUE_CONFLICTS.append(f"{database}.{name}")
                    raise JsonRESTError(
                        "ConcurrentModificationException",
                        f"Table {database}.{name} was updated concurrently (version {current}, not {version})",
                    )
            return original(self)

    update_table._checks_version_id = True  # type: ignore[attr-defined]
    GlueResponse.update_table = update_table  # type: ignore[method-assign]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 (free port) with bucket ``test-bucket``; stopped at session end.

    Credentials are passed explicitly everywhere, so no environment variable is set or needed.
    """
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    _glue_checks_version_id()

    try:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
    except OSError:  # an older moto without port=0 support: pick one (tiny race, fine for tests)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
        server.start()
        host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    info = S3Server(
        endpoint_url=endpoint,
        bucket=BUCKET,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
        options=StorageOptions(
            s3_endpoint_url=endpoint,
            s3_region=REGION,
            s3_access_key_id=ACCESS_KEY,
            s3_secret_access_key=SECRET_KEY,
        ),
    )
    try:
        info.client().create_bucket(Bucket=BUCKET)
        yield info
    finally:
        server.stop()
