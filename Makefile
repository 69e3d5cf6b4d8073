# kefu — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Set everything up and serve the demo app at http://$(HOST):$(PORT)
demo: $(VENV)/.installed
	$(BIN)/kefu serve --demo --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

## Install the test extras, lint, type-check and run the whole suite
test: $(VENV)/.test-installed
	$(BIN)/ruff check kefu tests bench
	$(BIN)/ruff format --check kefu tests bench
	$(BIN)/mypy
	$(BIN)/pytest

unit: $(VENV)/.test-installed
	$(BIN)/pytest -m "not integration and not slow"

bench: $(VENV)/.test-installed
	$(BIN)/python bench/faq_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
