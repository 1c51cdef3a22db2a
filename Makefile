# Two commands do all set-up: `make run` serves Parley, `make test` tests it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test processes in parallel (pytest-xdist): one per core by default.
TEST_WORKERS ?= auto

.PHONY: run test check bench migrate clean test-prerequisites

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

var:
	mkdir -p var

migrate: $(STAMP) var
	$(BIN)/parley migrate

run: migrate
	$(BIN)/parley serve

test-prerequisites:
	scripts/test-prerequisites

test: $(STAMP) test-prerequisites
	$(BIN)/pytest -q -n $(TEST_WORKERS)

check: $(STAMP)
	$(BIN)/ruff format --check
	$(BIN)/ruff check
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
