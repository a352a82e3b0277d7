from cassandra_bulk_core import __version__

__all__ = ["__version__"]
