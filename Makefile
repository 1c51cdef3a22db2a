# Two commands do all set-up: `make run` serves Parley, `make test` tests it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Test processes in parallel (pytest-xdist). Most tests wait on servers and sockets, so twice as many processes as
# cores keep the cores busy; the console tests are grouped so that at most two browsers run at once.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))

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

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): the suite starts hundreds
# of `parley serve` and CLI processes, and compiling Parley's modules anew in each cost about a second of CPU apiece.
test: $(STAMP) test-prerequisites
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

check: $(STAMP)
	$(BIN)/ruff format --check
	$(BIN)/ruff check
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
