# The README's two commands are `make demo` and `make test`; both bootstrap what they need.
SHELL := bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
NODES ?= 1
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install demo test test-unit test-integration test-cluster lint format provision bench \
        cassandra-up cassandra-down cassandra-destroy cassandra-status clean

help:
	@echo "make demo            start a local Cassandra 5 node, fill a sample table, run cassandra-bulk on it"
	@echo "make test            unit + integration (1 node) + cluster (3 nodes) tests on a real Cassandra 5"
	@echo "make cassandra-up NODES=3 | cassandra-down | cassandra-status"
	@echo "make lint            ruff + mypy"
	@echo "make bench           cassandra-bulk vs DSBulk vs cqlsh COPY on the local node (BENCH_ARGS=...)"

# Python deps exactly as locked (all extras: dagster, airflow, s3, gcs, azure, plus the dev group).
.venv/.synced: uv.lock pyproject.toml native/Cargo.toml native/pyproject.toml $(wildcard native/src/*.rs)
	@bash tools/bootstrap.sh
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $@

install: .venv/.synced

provision: install
	$(UV) run --frozen python -m tools.local_cassandra provision

demo: install
	$(UV) run --frozen python -m examples.demo

test: install
	$(UV) run --frozen pytest $(PYTEST_ARGS)

test-unit: install
	$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(UV) run --frozen pytest -m "integration and not cluster" $(PYTEST_ARGS)

test-cluster: install
	$(UV) run --frozen pytest -m cluster $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy cassandra_bulk_core dagster_cassandra_bulk airflow_provider_cassandra_bulk

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install
	$(UV) run --frozen python -m bench $(BENCH_ARGS)

cassandra-up: install
	$(UV) run --frozen python -m tools.local_cassandra up --nodes $(NODES)

cassandra-down: install
	$(UV) run --frozen python -m tools.local_cassandra down

cassandra-destroy: install
	$(UV) run --frozen python -m tools.local_cassandra destroy

cassandra-status: install
	$(UV) run --frozen python -m tools.local_cassandra status

clean:
	rm -rf .venv .pytest_cache .ruff_cache .mypy_cache
