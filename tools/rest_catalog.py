"""A real Iceberg REST catalog server on loopback, for tests and local trials.

The server is Apache Iceberg's own REST catalog reference implementation, the one the Iceberg
project tests its REST clients against (``RESTCatalogAdapter`` + ``RESTCatalogServlet`` from the
``iceberg-core`` test jar, as wrapped by ``iceberg-open-api``'s ``RESTCatalogServer`` test fixture
and the ``apache/iceberg-rest-fixture`` image), backed by a ``JdbcCatalog`` on a SQLite file, with
metadata written through ``HadoopFileIO`` to a ``file://`` warehouse.

Why a small launcher instead of ``RESTCatalogServer`` itself: that class binds every interface
(``new Server(port)``) with SO_REUSEPORT, so two servers on one machine could silently share a
port; ours binds exactly one address (``127.0.0.63`` by default). It is compiled once with ``javac``;
where there is only a JRE (no ``javac``), the fixture's own ``RESTCatalogServer`` runs instead
(configured by ``CATALOG_*`` variables, listening on all interfaces at the same port).

The jars (about 80 MB, Hadoop's shaded client being most of it) are resolved once with Maven into
``$CASSANDRA_BULK_CACHE/iceberg-rest-<version>/lib``, like DSBulk's (see ``tools/dsbulk.py``).

    python -m tools.rest_catalog --warehouse /tmp/wh      # runs in the foreground, Ctrl-C stops
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.local_cassandra.java import find_java
from tools.local_cassandra.provision import cache_root

VERSION = "1.10.0"
HOST = "127.0.0.63"
PORT = 8181
_DEPS = (
    ("org.apache.iceberg", "iceberg-core", VERSION, ""),
    ("org.apache.iceberg", "iceberg-core", VERSION, "tests"),  # RESTCatalogAdapter, RESTCatalogServlet
    ("org.apache.iceberg", "iceberg-open-api", VERSION, "test-fixtures"),  # RESTCatalogServer (no javac)
    ("org.eclipse.jetty", "jetty-servlet", "11.0.25", ""),  # what iceberg 1.10's servlet is built for
    ("org.xerial", "sqlite-jdbc", "3.50.3.0", ""),
    ("org.apache.hadoop", "hadoop-client-api", "3.4.1", ""),  # HadoopFileIO for file:// metadata
    ("org.apache.hadoop", "hadoop-client-runtime", "3.4.1", ""),
    ("org.slf4j", "slf4j-simple", "2.0.17", ""),
)
MAIN = "CbRestCatalog"
FIXTURE_MAIN = "org.apache.iceberg.rest.RESTCatalogServer"
_LAUNCHER = r"""
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

/** Iceberg's REST catalog test server (what RESTCatalogServer does), bound to one address. */
public class CbRestCatalog {
  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    Map<String, String> props = new HashMap<>();
    props.put("catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog");
    props.put("jdbc.schema-version", "V1");
    for (int i = 2; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    Catalog catalog = CatalogUtil.buildIcebergCatalog("rest_backend", props, new Configuration());
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(new RESTCatalogAdapter(catalog))), "/*");
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.start();
    System.out.println("cassandra-bulk REST catalog ready on http://" + host + ":" + port);
    server.join();
  }
}
"""


def _home(version: str) -> Path:
    return cache_root() / f"iceberg-rest-{version}"


def provision(version: str = VERSION) -> Path:
    """The cache directory holding ``lib/`` (the jars) and ``classes/`` (the launcher, when ``javac``
    exists), made on first use.

    :param version: Apache Iceberg version of the server (jar versions are pinned to match 1.10).
    :raises RuntimeError: Maven or javac failed; the message carries the tail of their output.
    """
    home = _home(version)
    if (home / ".complete").exists():
        return home
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{version if g == 'org.apache.iceberg' else v}</version>"
        f"{f'<classifier>{c}</classifier>' if c else ''}</dependency>"
        for g, a, v, c in _DEPS
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>cb.local</groupId><artifactId>iceberg-rest</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>"
    )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("the Iceberg REST catalog server needs Maven (mvn) on PATH to fetch its jars")
    shutil.rmtree(home, ignore_errors=True)
    (home / "classes").mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(pom)
        (Path(tmp) / f"{MAIN}.java").write_text(_LAUNCHER)
        res = subprocess.run(
            [mvn, "-B", "-q", "dependency:copy-dependencies", f"-DoutputDirectory={home / 'lib'}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            tail = (res.stdout + res.stderr)[-3000:]
            raise RuntimeError(f"could not resolve Iceberg {version} REST server jars:\n{tail}")
        javac = _javac()
        if javac is None:  # a JRE only: start() runs the fixture's RESTCatalogServer instead
            (home / ".complete").write_text(version)
            return home
        res = subprocess.run(
            [
                javac,
                *("-d", str(home / "classes"), "-cp", f"{home / 'lib'}/*"),
                str(Path(tmp) / f"{MAIN}.java"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise RuntimeError(f"could not compile the REST catalog launcher:\n{(res.stdout + res.stderr)[-3000:]}")
    (home / ".complete").write_text(version)
    return home


def _javac() -> str | None:
    """The ``javac`` beside the Java runtime used (or on PATH), if this is a JDK."""
    beside = Path(find_java()).with_name("javac")
    return str(beside) if beside.exists() else shutil.which("javac")


class RestCatalogServer:
    """One REST catalog server process: :meth:`start` waits until it answers, :meth:`stop` ends it.

    :param warehouse: local directory shared by server (metadata) and clients (data files).
    :param host: the one address to listen on.
    :param port: the port on ``host``.
    """

    def __init__(self, warehouse: Path, host: str = HOST, port: int = PORT, version: str = VERSION) -> None:
        self.warehouse = Path(warehouse).absolute()
        self.host = host
        self.port = port
        self.version = version
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.warehouse.parent / f"rest-catalog-{port}.log"

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def properties(self) -> dict[str, str]:
        """pyiceberg catalog properties for this server."""
        return {"type": "rest", "uri": self.uri, "warehouse": self.warehouse.as_uri()}

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/v1/config", timeout=2) as resp:
                return isinstance(json.loads(resp.read()), dict)
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def start(self, timeout: float = 120.0) -> RestCatalogServer:
        """Start the server (provisioning it first if needed) and wait until ``/v1/config`` answers."""
        if self.answers():
            raise RuntimeError(f"something already answers at {self.uri}; not starting a second server there")
        home = provision(self.version)
        self.warehouse.mkdir(parents=True, exist_ok=True)
        catalog_uri = f"jdbc:sqlite:file:{self.warehouse / 'rest-catalog.db'}"
        java = [find_java(), "-Xmx512m", "-cp", f"{home / 'classes'}{os.pathsep}{home / 'lib'}/*"]
        env = dict(os.environ)
        if (home / "classes" / f"{MAIN}.class").exists():
            cmd = [*java, MAIN, self.host, str(self.port), f"uri={catalog_uri}", f"warehouse={self.warehouse.as_uri()}"]
        else:  # no javac where it was provisioned: the fixture's own server (all interfaces, this port)
            cmd = [*java, FIXTURE_MAIN]
            env.update(CATALOG_URI=catalog_uri, CATALOG_WAREHOUSE=self.warehouse.as_uri())
            env["CATALOG_REST_PORT"] = str(self.port)  # read as rest.port
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the REST catalog server exited ({self.process.returncode}): {self._log_tail()}")
            if self.answers():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"no answer at {self.uri} within {timeout:.0f}s from the REST catalog: {self._log_tail()}")

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
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Apache Iceberg's REST catalog test server locally")
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    server = RestCatalogServer(args.warehouse, args.host, args.port).start()
    print(f"REST catalog at {server.uri} (warehouse {server.warehouse.as_uri()}); Ctrl-C stops it", flush=True)
    try:
        assert server.process is not None
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
