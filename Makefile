# Two commands for a fresh machine:  `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint browser postgres bench setup clean

# Create the virtual environment and install the project (editable) with its test tools.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: a demo on the embedded data set (CPU when there is no GPU).
demo: $(STAMP)
	$(BIN)/study launch

# The test suite: lint and types first (seconds), then pytest (a real single-node Ray, real MLflow
# stores and servers, a real headless Chromium for the dashboard and real PostgreSQL clusters for the
# tracking-server tests are started by the tests).
test: $(STAMP) lint browser postgres
	$(BIN)/python -m pytest tests

# ruff (lint, import order) and mypy (trainable/, study/, dashboards/), as configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Debian's chromium for the dashboard's browser tests (installed with apt-get when missing and root).
browser:
	sh tests/setup_browser.sh

# Debian's postgresql for the tracking-server tests (installed with apt-get when missing and root).
postgres:
	sh tests/setup_postgres.sh

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
