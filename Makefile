# duckdb-spawn — every task is one make target. Needs only python3 (>= 3.11), pip and git.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
# Where `make generate` writes the stubs; tests point it elsewhere to check for drift.
GEN_OUT ?= generated
PROTO_FILES = $(sort $(wildcard protos/duckdb_spawn/v1/*.proto))
# The google/api and google/rpc .proto files shipped by googleapis-common-protos.
GOOGLEAPIS_PROTOS = $(shell $(PY) -c 'import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])')

.PHONY: help install run ontology test test-tools postgres-tools lint generate proto-deps node-deps breaking bench chaos clean

help:
	@echo "make run      set up .venv and serve on :50051 (DuckDB file + built-in mock ontology)"
	@echo "make ontology serve the example ontology schemas on :8001 (development ontology server)"
	@echo "make test     set up .venv and run the whole test suite"
	@echo "make generate regenerate generated/ from protos/"
	@echo "make lint     buf lint, buf format check, ruff"
	@echo "make bench    run the throughput/latency benchmarks"
	@echo "make chaos    run the chaos suite (crashes, full disk, hostile input, failing ontology): one table"

# The Python client (clients/python) installs beside the service: it uses the stubs in generated/.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' -e clients/python
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/duckdb-spawn-server

# A development ontology server: ONTOLOGY_DIR holds {schema_id}.json files (default: the examples).
ONTOLOGY_DIR ?= server/duckdb_spawn_server/ontology/dev_schemas
ontology: install
	$(BIN)/duckdb-spawn-ontology-server --dir $(ONTOLOGY_DIR) --port 8001

# Test-only tools: Prometheus' promtool (from Debian's package, unpacked into .venv/bin) checks and
# unit-tests the alert rules; TypeScript with Grafana's published schema checks the dashboard.
PROMTOOL      := $(BIN)/promtool
GRAFANA_CHECK := build/grafana-schema
GRAFANA_STAMP := $(GRAFANA_CHECK)/node_modules/.installed

$(PROMTOOL): | $(STAMP)
	.ci/fetch-promtool $(BIN) || echo "promtool unavailable: the alert rules get the schema check only" >&2

$(GRAFANA_STAMP): tests/observability/grafana_schema/package.json tests/observability/grafana_schema/package-lock.json
	mkdir -p $(GRAFANA_CHECK)
	cp tests/observability/grafana_schema/package.json tests/observability/grafana_schema/package-lock.json $(GRAFANA_CHECK)/
	cd $(GRAFANA_CHECK) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(GRAFANA_STAMP)

# The Node client's tests (run by pytest against a live server) need its modules and the google protos.
NODE_STAMP := clients/node/node_modules/.installed
$(NODE_STAMP): clients/node/package-lock.json
	cd clients/node && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

node-deps: $(NODE_STAMP)

# The lake tests (tests/lake) start a real PostgreSQL as the `postgres` user: Debian's package,
# installed here when absent (root; a no-op when present, skipped with a message otherwise).
postgres-tools:
	.ci/install-postgres

test-tools: install proto-deps node-deps $(PROMTOOL) $(GRAFANA_STAMP) postgres-tools

test: test-tools
	$(BIN)/pytest

generate: install
	rm -rf $(GEN_OUT)/duckdb_spawn
	mkdir -p $(GEN_OUT)
	$(PY) -m grpc_tools.protoc -I protos -I $(GOOGLEAPIS_PROTOS) \
		--python_out=$(GEN_OUT) --pyi_out=$(GEN_OUT) --grpc_python_out=$(GEN_OUT) \
		$(PROTO_FILES)
	touch $(GEN_OUT)/duckdb_spawn/__init__.py $(GEN_OUT)/duckdb_spawn/v1/__init__.py

# buf resolves imports from build/proto-deps, filled from the installed package (offline).
proto-deps: install
	rm -rf build/proto-deps
	mkdir -p build/proto-deps/google
	cp -r $(GOOGLEAPIS_PROTOS)/google/api $(GOOGLEAPIS_PROTOS)/google/rpc build/proto-deps/google/
	find build/proto-deps -type f ! -name '*.proto' -delete

lint: proto-deps
	$(BIN)/buf lint protos
	$(BIN)/buf format --diff --exit-code protos
	$(BIN)/ruff check server tests clients/python

bench: install
	$(PY) -m tests.benchmarks.bench_unary
	$(PY) -m tests.benchmarks.bench_bulk
	$(PY) -m tests.benchmarks.bench_lake
	$(PY) -m tests.benchmarks.bench_changes

# kill -9 and SIGTERM under writes, a full disk (tmpfs: needs root), a hostile-input corpus over every
# RPC, a failing ontology: a few minutes, one table of figures, non-zero exit if a promise broke.
chaos: install
	$(PY) -m tests.chaos.run

clean:
	rm -rf $(VENV) build .pytest_cache clients/node/node_modules

# Fails if protos/ breaks the contract as of the baseline commit in .ci/contract-baseline
# (or AGAINST=<git ref>). The baseline is checked out beside the same google deps.
AGAINST ?= $(shell cat .ci/contract-baseline)
breaking: proto-deps
	rm -rf build/baseline
	mkdir -p build/baseline/build
	git archive $(AGAINST) protos buf.yaml | tar -x -C build/baseline
	cp -r build/proto-deps build/baseline/build/proto-deps
	$(BIN)/buf breaking --against build/baseline
