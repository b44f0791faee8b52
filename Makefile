# Every target sets up what it needs: a fresh clone only ever runs `make demo` / `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: setup demo test lint format clean dagster-dev chromium java bench bench-pipeline bench-import docs

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.lock -e '.[dev,spark]'
	@touch $(STAMP)

# The demo on Spark (CONVTRACK_ENGINE=spark) needs Java too.
demo: setup $(if $(filter spark,$(CONVTRACK_ENGINE)),java)
	$(BIN)/convtrack demo

test: setup chromium java
	$(BIN)/python -m pytest

# Browser tests drive Debian's Chromium through Playwright (`playwright install` cannot
# download here); installed only when missing, with sudo unless already root.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

chromium: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends chromium

# Spark (the `spark` extra, docs/operations.md#engines) runs on a Java runtime, which is no
# Python package: Debian's OpenJDK 17, installed only when no `java` is on PATH.
java:
	@command -v java >/dev/null || ( $(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends openjdk-17-jre-headless )

# Benchmarks (not tests): the collector against a bare FastAPI app, with Debian's wrk.
WRK := /usr/bin/wrk

bench: setup $(WRK)
	$(BIN)/python bench/collector_bench.py

$(WRK):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y --no-install-recommends wrk

# The pipeline at 10M clicks + 1M conversions against one hand-written DuckDB script, and
# every other figure of issue 10 (bench/pipeline_bench.py; ARGS="--clicks 200000
# --conversions 20000" for a quick run, ARGS="--scale 1000000,10000000" for the growth
# curve). On DuckDB only unless asked; Spark beside DuckDB (issue 11; needs java, see
# `make java`; 50 min on a very busy 2-core machine, bench/README.md):
#   make bench-pipeline ARGS="--clicks 200000 --conversions 20000 --engines duckdb,spark"
# numpy generates the data and matplotlib draws the curve; they are no project
# dependencies, so they go beside the venv, in $(BENCH_LIB), at the lock's versions of
# whatever they share with the venv (python-dateutil, packaging, six).
BENCH_LIB := $(VENV)/bench-lib
BENCH_PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check \
	--target $(BENCH_LIB) -c requirements.lock

bench-pipeline: setup $(BENCH_LIB)/numpy $(BENCH_LIB)/matplotlib
	$(BIN)/python bench/pipeline_bench.py $(ARGS)

# File import (bench/import_bench.py): 2M clicks + 500K conversions from Parquet and from
# JSON lines, each beside DuckDB writing the same rows unvalidated (ARGS="--clicks 200000").
bench-import: setup $(BENCH_LIB)/numpy
	$(BIN)/python bench/import_bench.py $(ARGS)

$(BENCH_LIB)/numpy: $(STAMP)
	$(BENCH_PIP) numpy

# --upgrade: the numpy it brings replaces the one above instead of being skipped.
$(BENCH_LIB)/matplotlib: $(BENCH_LIB)/numpy
	$(BENCH_PIP) --upgrade numpy matplotlib==3.11.2

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/sqlfluff fix dbt_project

# The dbt project's documentation site, one self-contained HTML file that opens offline
# (docs/dbt_docs.py builds the models, empty, in a temporary DuckDB for the catalog).
docs: setup
	$(BIN)/python docs/dbt_docs.py --out docs/dbt/index.html

# The Dagster UI on the same instance as `convtrack pipeline run` (data/dagster), offline.
# .venv/bin on PATH: under `dagster dev`, dagster-dbt re-parses the project with `dbt`.
dagster-dev: setup
	@mkdir -p data/dagster && cp dagster.yaml data/dagster/dagster.yaml
	PATH=$(abspath $(BIN)):$$PATH DAGSTER_HOME=$(abspath data/dagster) \
		$(BIN)/dagster dev -m orchestration.definitions -h 127.0.0.1 -p $${PORT:-3000}

clean:
	rm -rf $(VENV) dbt_project/target data docs/dbt
