# kefu — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data

.PHONY: demo test unit bench browser clean

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

## Debian's chromium for the browser tests (Playwright drives it; it downloads nothing)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Install the test extras, lint, type-check and run the whole suite
test: $(VENV)/.test-installed browser
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
