# Huajia's set-up and checks. `make run` starts the service; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
DATA ?= huajia-data
TINY := $(DATA)/models/tiny
CKEDITOR := integrations/ckeditor5
TINYMCE := integrations/tinymce

.PHONY: run test install dev tiny check lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	@if command -v npm >/dev/null; then npm ci --prefix $(CKEDITOR) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: /demo/ckeditor needs it (the web app and API do not)"; fi
	@if command -v npm >/dev/null; then npm ci --prefix $(TINYMCE) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: /demo/tinymce needs it (the web app and API do not)"; fi

dev: install
	$(BIN)/pip install -q -e ".[dev,accel]"

$(TINY)/model_index.json:
	$(BIN)/huajia model create-tiny $(TINY)

tiny: install $(TINY)/model_index.json

# Start Huajia on the tiny random-weight model (it draws noise): http://127.0.0.1:8000
run: tiny
	$(BIN)/huajia serve --model $(TINY) --data-dir $(DATA)

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck:
	$(BIN)/mypy
	$(BIN)/mypy --explicit-package-bases bench

# Two test processes, each taking whole files (a file's server is started once): most of a
# test's time is a server or a browser starting, which leaves a core idle. The slowest files
# go first and the browser tests stay together (tests/support/scheduling.py). TEST_JOBS=0: one.
TEST_JOBS ?= 2
pytest:
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile

check: lint typecheck pytest

test: dev
	bash scripts/ensure-chromium.sh
	$(MAKE) check

bench: tiny
	$(BIN)/python bench/service_overhead.py --model $(TINY)

clean:
	rm -rf $(VENV) $(DATA) test-artifacts $(CKEDITOR)/node_modules $(TINYMCE)/node_modules
