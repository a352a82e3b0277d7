"""DataStax Bulk Loader (DSBulk), the peer the benchmarks run beside cassandra-bulk.

The distribution artifact (``com.datastax.oss:dsbulk-distribution``) is not served by this project's
Maven mirror, but DSBulk's module jars are (1.10.0): the runner, the load/unload workflows, the
CSV/JSON connectors and the reactor executor, plus their dependencies, are what the distribution's
``lib/`` holds. They are resolved once with Maven into ``$CASSANDRA_BULK_CACHE/dsbulk-<v>/lib`` and run
with ``com.datastax.oss.dsbulk.runner.DataStaxBulkLoader``, as ``bin/dsbulk`` does. ``count`` is not
available (``dsbulk-workflow-count`` is not served).

Known limit: DSBulk 1.10's driver cannot parse ``vector<...>`` columns, and then loses the schema of
the whole cluster ("Keyspace ... does not exist"); benchmark against a node without vector tables.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tools.local_cassandra.java import find_java
from tools.local_cassandra.provision import cache_root

DEFAULT_VERSION = "1.10.0"
MODULES = (
    "dsbulk-runner",
    "dsbulk-workflow-unload",
    "dsbulk-workflow-load",
    "dsbulk-connectors-csv",
    "dsbulk-connectors-json",
    "dsbulk-executor-reactor",
)
MAIN = "com.datastax.oss.dsbulk.runner.DataStaxBulkLoader"


def provision(version: str = DEFAULT_VERSION) -> Path:
    """The directory of DSBulk's jars, resolved with Maven on first use."""
    home = cache_root() / f"dsbulk-{version}"
    if (home / ".complete").exists():
        return home / "lib"
    deps = "".join(
        f"<dependency><groupId>com.datastax.oss</groupId><artifactId>{m}</artifactId><version>{version}</version>"
        "</dependency>"
        for m in MODULES
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>cb.local</groupId><artifactId>dsbulk</artifactId><version>1</version><dependencies>{deps}"
        "</dependencies></project>"
    )
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pom.xml").write_text(pom)
        res = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={home / 'lib'}",
                "-DincludeScope=runtime",
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
    if res.returncode != 0:
        raise RuntimeError(f"could not resolve DSBulk {version} from Maven:\n{(res.stdout + res.stderr)[-3000:]}")
    (home / ".complete").write_text(version)
    return home / "lib"


def command(*args: str, version: str = DEFAULT_VERSION) -> list[str]:
    """``dsbulk <args>`` as a command line (Java 17 from the harness's lookup)."""
    return [find_java(), "-cp", f"{provision(version)}/*", MAIN, *args]
