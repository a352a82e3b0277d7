"""Benchmark harness: cassandra-bulk beside DSBulk and cqlsh COPY on one local Cassandra node.

    uv run --frozen python -m bench --rows 1000000 --repeat 3

Figures, not tests: every tool runs as a child process whose CPU time and peak memory are read from
the kernel, so the comparison is the same for Java, cqlsh and cassandra-bulk. See docs/performance.md.
"""
