"""The distribution's version, read once from package metadata (cheap: no engine import)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cassandra-bulk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
