"""DataStax Bulk Loader (DSBulk), the peer the benchmarks run beside cassandra-bulk.

The distribution artifact (``com.datastax.oss:dsbulk-distribution``) is not served by this project's
Maven mirror, but DSBulk's module jars are (1.10.0): the runner, the load/unload workflows, the
CSV/JSON connectors, the reactor executor and batcher, plus their dependencies, are what the distribution's
``lib/`` holds. They are resolved once with Maven into ``$CASSANDRA_BULK_CACHE/dsbulk-<v>/lib`` and run
with ``com.datastax.oss.dsbulk.runner.DataStaxBulkLoader``, as ``bin/dsbulk`` does. ``count`` needs
``dsbulk-workflow-count``, which the mirror did not serve for 1.9.0, 1.9.1, 1.10.0, 1.11.0 or 1.11.2
(checked 2026-11-24); :func:`count_jar` tries it (at most once a day, the answer is cached) and says
why it is missing, so a benchmark can report DSBulk count as unavailable instead of failing.

Known limit: DSBulk 1.10's driver cannot parse ``vector<...>`` columns, and then loses the schema of
the whole cluster ("Keyspace ... does not exist"); benchmark against a node without vector tables.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
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
    "dsbulk-batcher-reactor",  # load's statement batcher (a ServiceLoader lookup: load fails without it)
)
MAIN = "com.datastax.oss.dsbulk.runner.DataStaxBulkLoader"


def provision(version: str = DEFAULT_VERSION) -> Path:
    """The directory of DSBulk's jars, resolved with Maven on first use."""
    home = cache_root() / f"dsbulk-{version}"
    if (home / ".complete").exists() and all((home / "lib" / f"{m}-{version}.jar").exists() for m in MODULES):
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


def count_jar(version: str = DEFAULT_VERSION) -> tuple[Path | None, str]:
    """(the count workflow jar, "") once it is in DSBulk's lib directory, else (None, why not).

    A failed lookup is remembered for a day in ``dsbulk-<v>/.count-unavailable``: Maven caches the
    failure itself, and asking the mirror on every benchmark run would only cost time.
    """
    lib = provision(version)
    jar = lib / f"dsbulk-workflow-count-{version}.jar"
    if jar.exists():
        return jar, ""
    marker = lib.parent / ".count-unavailable"
    if marker.exists() and time.time() - marker.stat().st_mtime < 86400:
        return None, marker.read_text()
    res = subprocess.run(
        [
            "mvn",
            "-B",
            "-U",
            "dependency:copy",
            f"-Dartifact=com.datastax.oss:dsbulk-workflow-count:{version}",
            f"-DoutputDirectory={lib}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode == 0 and jar.exists():
        return jar, ""
    text = res.stdout + res.stderr
    found = re.search(r"Could not find artifact [^\n]*?\)", text)
    errors = [line.removeprefix("[ERROR] ") for line in text.splitlines() if line.startswith("[ERROR]")]
    detail = found.group(0) if found else (errors[0] if errors else f"mvn exit {res.returncode}")
    reason = f"DSBulk count unavailable: the Maven mirror does not serve it ({detail})"[:400]
    marker.write_text(reason)
    return None, reason


def command(*args: str, version: str = DEFAULT_VERSION) -> list[str]:
    """``dsbulk <args>`` as a command line (Java 17 from the harness's lookup)."""
    return [find_java(), "-cp", f"{provision(version)}/*", MAIN, *args]
