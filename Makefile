# Vigil — one command per chore. Needs only python3.11 (or newer) and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: run test test-pg check lint format typecheck bench bench-side-by-side faults fuzz clean lock

$(VENV)/.runtime: requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $@

## run: create the environment, migrate the database (SQLite under ./var by default), serve
run: $(VENV)/.runtime
	mkdir -p var
	$(PY) -m api.cli migrate
	$(PY) -m api.cli serve

## test: the whole suite on SQLite, and on PostgreSQL too when VIGIL_TEST_DATABASE_URL is set
test: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

## test-pg: the suite on SQLite and the local PostgreSQL
test-pg: $(VENV)/.dev
	VIGIL_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest $(PYTEST_ARGS)

## faults: kill -9, PostgreSQL outage, races and two-server scale-out tests (need PostgreSQL;
## part of `make test` whenever VIGIL_TEST_DATABASE_URL is set)
faults: $(VENV)/.dev
	VIGIL_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest tests/faults tests/scaleout $(PYTEST_ARGS)

## fuzz: schemathesis against the OpenAPI schema; VIGIL_FUZZ_EXAMPLES per operation (default 15)
fuzz: $(VENV)/.dev
	$(PY) -m pytest tests/fuzz $(PYTEST_ARGS)

## lint: ruff, and the import contract of docs/architecture.md (lint-imports)
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(VENV)/.dev
	$(VENV)/bin/mypy

## check: lint, types, tests
check: lint typecheck test

## bench: benchmarks against a live server on PostgreSQL (see bench/README.md)
bench: $(VENV)/.dev
	$(PY) -m bench.run

## bench-side-by-side: many writers on few sessions, Vigil next to a textbook app
bench-side-by-side: $(VENV)/.dev
	$(PY) -m bench.side_by_side

## lock: re-pin dependencies after editing requirements*.in
lock:
	rm -rf /tmp/vigil-lock && $(PYTHON) -m venv /tmp/vigil-lock
	/tmp/vigil-lock/bin/pip install --quiet -r requirements.in
	(echo "# Runtime dependencies, pinned (pip freeze of requirements.in)."; /tmp/vigil-lock/bin/pip freeze) > requirements.lock
	/tmp/vigil-lock/bin/pip install --quiet -r requirements-dev.in
	(echo "# Runtime + development dependencies, pinned (pip freeze of requirements-dev.in)."; /tmp/vigil-lock/bin/pip freeze) > requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
