"""Developer tooling for cassandra-bulk (not shipped in the wheel)."""
