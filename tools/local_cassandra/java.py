"""Find a Java runtime that Cassandra 5.0 supports (11 or 17; 17 preferred).

Cassandra 5.0 refuses Java 21+, and machines often carry several JDKs, so ``java`` on PATH is
not good enough: look for a 17 explicitly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

SUPPORTED = (17, 11)


class JavaNotFound(RuntimeError):
    pass


def java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def _candidates() -> list[str]:
    found: list[str] = []
    for var in ("CASSANDRA_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            found.append(str(Path(os.environ[var]) / "bin" / "java"))
    for root in (Path("/usr/lib/jvm"), Path("/opt/java"), Path("/Library/Java/JavaVirtualMachines")):
        if root.is_dir():
            for d in sorted(root.iterdir()):
                for java in (d / "bin" / "java", d / "Contents" / "Home" / "bin" / "java"):
                    if java.exists():
                        found.append(str(java))
    if shutil.which("java"):
        found.append(shutil.which("java") or "java")
    return found


def find_java() -> str:
    """Return the path of a java binary of a supported version, 17 first."""
    by_version: dict[int, str] = {}
    seen: list[str] = []
    for java in _candidates():
        major = java_major(java)
        seen.append(f"{java} ({major})")
        if major in SUPPORTED and major not in by_version:
            by_version[major] = java
            if major == SUPPORTED[0] and os.environ.get("CASSANDRA_JAVA_HOME"):
                break
    for major in SUPPORTED:
        if major in by_version:
            return by_version[major]
    raise JavaNotFound(
        "Cassandra 5.0 needs Java 17 (or 11); found: "
        + (", ".join(seen) or "no java at all")
        + ". Install openjdk-17-jre-headless or set CASSANDRA_JAVA_HOME."
    )
