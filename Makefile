.DEFAULT_GOAL := help
PY ?= python

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-10s %s\n", $$1, $$2}'

install: ## Install Mitra and its development tools
	$(PY) -m pip install -q -e ".[dev]"

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
