.DEFAULT_GOAL := help
PY ?= python

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

install: ## Install Mitra, its development tools, and Debian's chromium for the browser tests
	$(PY) -m pip install -q -e ".[dev]"
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

demo: install ## Run the demo (embedded PostgreSQL, fake WhatsApp)
	mitra demo

lint: ## ruff lint and format check
	ruff check .
	ruff format --check .

typecheck: ## mypy
	mypy

test: ## The test suite (real PostgreSQL; embedded unless MITRA_TEST_DATABASE_URL is set)
	$(PY) -m pytest

check: install lint typecheck test ## Everything CI runs: install, lint, types, tests

bench: ## Benchmarks: webhook ingest and end to end
	mitra bench ingest
	mitra bench e2e

.PHONY: help install demo lint typecheck test check bench
