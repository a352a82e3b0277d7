"""Real Google Cloud Storage and Azure Blob emulators on loopback, for tests and local trials.

* **GCS**: `fake-gcs-server <https://github.com/fsouza/fake-gcs-server>`_ (Go), built once with
  ``go install`` from the Go module proxy into ``$CASSANDRA_BULK_CACHE/fake-gcs-server-<version>/``,
  run on ``127.0.0.61:4443`` over plain HTTP with an in-memory backend. Chosen over the pure-Python
  ``gcp-storage-emulator`` because it implements what gcsfs uses: resumable uploads (gcsfs sends any
  file over its block size that way), ``rewriteTo`` copies, listings with prefixes/delimiters, deletes.
  Clients find it through ``STORAGE_EMULATOR_HOST=http://127.0.0.61:4443`` (gcsfs, google-cloud-storage)
  or pyiceberg's ``gcs.service.host``; it accepts any or no token.
* **Azure Blob**: `Azurite <https://github.com/Azure/Azurite>`_ (Node), ``npm install azurite@3.35.0``
  into ``$CASSANDRA_BULK_CACHE/azurite-3.35.0/`` (3.36+ need Node 21+, this machine has Node 20), blob
  service only, on ``127.0.0.62:10000``, in memory. Clients authenticate with Azurite's well-known
  development account (``devstoreaccount1`` and its published key), e.g. through
  ``AZURE_STORAGE_CONNECTION_STRING`` (adlfs) or pyiceberg's ``adls.connection-string``.

Both are started as child processes in their own session and stopped by :meth:`Emulator.stop` (that
process only). ``python -m tools.object_stores`` runs both in the foreground until Ctrl-C;
``--provision`` only fills the cache (``.ci/run`` does that before pytest, whose per-test timeout
a first Go build on a busy machine could exceed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TypeVar

from tools.local_cassandra.provision import cache_root

FAKE_GCS_VERSION = "v1.56.1"
AZURITE_VERSION = "3.35.0"
GCS_HOST, GCS_PORT = "127.0.0.61", 4443
AZURE_HOST, AZURE_PORT = "127.0.0.62", 10000

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's fixed development key, published in its README and Microsoft's docs: no secret.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({res.returncode}):\n{(res.stdout + res.stderr)[-3000:]}")


def provision_fake_gcs(version: str = FAKE_GCS_VERSION) -> Path:
    """The fake-gcs-server binary, built with ``go install`` on first use and cached.

    :param version: module version of ``github.com/fsouza/fake-gcs-server``.
    :raises RuntimeError: Go is missing or the build failed (the message carries its output's tail).
    """
    home = cache_root() / f"fake-gcs-server-{version}"
    binary = home / "fake-gcs-server"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the GCS emulator (fake-gcs-server) is built with Go; put `go` on PATH")
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {**os.environ, "GOBIN": str(tmp), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    _run([go, "install", f"github.com/fsouza/fake-gcs-server@{version}"], env=env)
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    return binary


def provision_azurite(version: str = AZURITE_VERSION) -> Path:
    """Azurite's blob-service launcher, installed from npm on first use and cached.

    :param version: the ``azurite`` npm package version (3.35.0 is the last one for Node 20).
    :raises RuntimeError: npm is missing or the install failed.
    """
    home = cache_root() / f"azurite-{version}"
    launcher = home / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if (home / ".complete").exists() and launcher.exists():
        return launcher
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("the Azure Blob emulator (Azurite) is installed with npm; install Node.js 20+")
    home.mkdir(parents=True, exist_ok=True)
    _run([npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--prefix", str(home), f"azurite@{version}"])
    if not launcher.exists():
        raise RuntimeError(f"azurite {version} installed, but {launcher} is missing")
    (home / ".complete").write_text(version)
    return launcher


_E = TypeVar("_E", bound="Emulator")


class Emulator:
    """One emulator process: :meth:`start` waits until it answers, :meth:`stop` ends that process only."""

    name = "emulator"

    def __init__(self, host: str, port: int, log_dir: Path) -> None:
        self.host, self.port = host, port
        self.log_path = Path(log_dir) / f"{self.name}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def _port_taken(self) -> bool:
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((self.host, self.port)) == 0

    def start(self: _E, timeout: float = 60.0) -> _E:
        """Provision (first time only), start, and wait for the first good answer.

        :param timeout: seconds to wait for the server to answer.
        :raises RuntimeError: the address is taken, the process exited, or it never answered.
        """
        if self._port_taken():
            raise RuntimeError(f"{self.host}:{self.port} is already in use; not starting {self.name} there")
        cmd = self._command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self._log_tail()}")
            if self.answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer at {self.endpoint} within {timeout:.0f}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the process this object started (and only it)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


class GcsEmulator(Emulator):
    """fake-gcs-server over HTTP, in memory; ``create_bucket`` makes buckets through its JSON API."""

    name = "fake-gcs-server"

    def __init__(self, log_dir: Path, host: str = GCS_HOST, port: int = GCS_PORT) -> None:
        super().__init__(host, port, log_dir)

    def _command(self) -> list[str]:
        return [
            str(provision_fake_gcs()),
            *("-scheme", "http", "-host", self.host, "-port", str(self.port), "-backend", "memory"),
            *("-public-host", f"{self.host}:{self.port}", "-external-url", self.endpoint, "-log-level", "warn"),
        ]

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b", timeout=2) as resp:
                return isinstance(json.loads(resp.read()), dict)
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (the JSON API's ``buckets.insert``)."""
        req = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def env(self) -> dict[str, str]:
        """Environment that points gcsfs and google-cloud-storage at this server."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}


class AzuriteBlob(Emulator):
    """Azurite's blob service, in memory, with its well-known development account."""

    name = "azurite-blob"

    def __init__(self, log_dir: Path, host: str = AZURE_HOST, port: int = AZURE_PORT) -> None:
        super().__init__(host, port, log_dir)

    def _command(self) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("Azurite needs Node.js (node) on PATH")
        return [
            node,
            str(provision_azurite()),
            *("--blobHost", self.host, "--blobPort", str(self.port), "--inMemoryPersistence"),
            *("--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"),
        ]

    @property
    def blob_endpoint(self) -> str:
        return f"{self.endpoint}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def answers(self) -> bool:
        # Any HTTP answer (Azurite says 400/403 to an unsigned request) means the service is up.
        try:
            with urllib.request.urlopen(f"{self.blob_endpoint}?comp=list", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, urllib.error.URLError):
            return False

    def create_container(self, name: str) -> None:
        """Create container ``name`` through the Azure SDK (already there is fine)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string)
        with contextlib.suppress(ResourceExistsError):
            client.create_container(name)

    def env(self) -> dict[str, str]:
        """Environment that points adlfs (and the Azure SDK's defaults) at this server."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}


def main() -> None:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="Run the GCS and Azure Blob emulators on loopback")
    parser.add_argument("--provision", action="store_true", help="only build/install them into the cache")
    if parser.parse_args().provision:
        print(f"fake-gcs-server: {provision_fake_gcs()}", flush=True)
        print(f"azurite: {provision_azurite()}", flush=True)
        return
    log_dir = Path(tempfile.mkdtemp(prefix="cb-object-stores-"))
    gcs, azure = GcsEmulator(log_dir).start(), AzuriteBlob(log_dir).start()
    print(f"GCS: STORAGE_EMULATOR_HOST={gcs.endpoint}", flush=True)
    print(f"Azure: AZURE_STORAGE_CONNECTION_STRING='{azure.connection_string}'", flush=True)
    print(f"logs in {log_dir}; Ctrl-C stops both", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        gcs.stop()
        azure.stop()


if __name__ == "__main__":
    main()
