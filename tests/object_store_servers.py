"""Real GCS and Azure Blob emulators for tests: fake-gcs-server on 127.0.0.61 and Azurite on 127.0.0.62
(see ``tools/object_stores.py``), one of each per test session, stopped at its end.

Each fixture yields a small handle with a fresh ``uri()`` per call, the environment that points the
fsspec backends (gcsfs, adlfs) at the server, and the pyiceberg FileIO properties that do the same.
The environment is not set for the whole session: tests apply ``env`` themselves (``monkeypatch`` or a
subprocess's ``env=``), so other tests never talk to an emulator by accident. First use builds/installs
the emulators (Go, npm) into ``~/.cache/cassandra-bulk``; later sessions start them in about a second.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tools.object_stores import AzuriteBlob, GcsEmulator

GCS_BUCKET = "cb-test-bucket"
AZURE_CONTAINER = "cb-test-container"


@dataclass(frozen=True)
class ObjectStore:
    """One running emulator as the tests see it."""

    kind: str
    """``gcs`` or ``azure``."""
    scheme: str
    bucket: str
    env: dict[str, str]
    """Environment variables that point the code under test at the emulator."""
    iceberg_props: dict[str, str]
    """pyiceberg FileIO properties for the same server."""
    secrets: tuple[str, ...] = ()
    """Credential strings that must never show up in output, logs or written objects."""
    server: Any = field(default=None, compare=False)

    def uri(self, prefix: str | None = None) -> str:
        """``gs://bucket/<prefix>`` / ``abfs://container/<prefix>``; a fresh unique prefix by default."""
        return f"{self.scheme}://{self.bucket}/{prefix or 't-' + uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """fake-gcs-server with bucket ``cb-test-bucket``."""
    server = GcsEmulator(tmp_path_factory.mktemp("gcs-emulator")).start()
    # The emulator takes any token; pyiceberg's pyarrow FileIO needs one (or it looks for Google
    # credentials), and a made-up one doubles as a secret the tests look for in every output.
    token = f"ya29.test-{uuid.uuid4().hex}"
    try:
        server.create_bucket(GCS_BUCKET)
        yield ObjectStore(
            kind="gcs",
            scheme="gs",
            bucket=GCS_BUCKET,
            env=server.env(),
            iceberg_props={
                "gcs.service.host": server.endpoint,
                "gcs.project-id": "test",
                "gcs.oauth2.token": token,
                "gcs.oauth2.token-expires-at": str(int((time.time() + 86400) * 1000)),
            },
            secrets=(token,),
            server=server,
        )
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """Azurite's blob service with container ``cb-test-container`` (development account)."""
    from tools.object_stores import AZURITE_KEY

    server = AzuriteBlob(tmp_path_factory.mktemp("azurite")).start()
    try:
        server.create_container(AZURE_CONTAINER)
        yield ObjectStore(
            kind="azure",
            scheme="abfs",
            bucket=AZURE_CONTAINER,
            env=server.env(),
            iceberg_props={"adls.connection-string": server.connection_string},
            secrets=(AZURITE_KEY,),
            server=server,
        )
    finally:
        server.stop()
