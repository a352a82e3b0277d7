"""An S3-compatible server on loopback for tests: moto in server mode, one per test session.

Server mode is a real HTTP server, so the code under test talks to it exactly as to S3 (pyarrow's C++
client and boto3 alike), unlike ``mock_aws`` which only patches boto3 in-process. Register the fixture
in a test module with ``from tests.s3_server import moto_s3  # noqa: F401`` (or in conftest.py).

Caveat: moto keeps its state in process-global backends, so a test using ``moto.mock_aws`` in the same
session would reset them (and drop the bucket); such tests should use this fixture instead.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cassandra_bulk_core.storage import StorageOptions

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
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )


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
