# Two commands for a fresh machine: `make serve` (build and serve the site) and
# `make test` (every test). Both create .venv and install what they need on
# first use; later runs reuse it until pyproject.toml or constraints.txt change.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Material prints an end-of-life banner on every build; it says nothing about ours.
export NO_MKDOCS_2_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help venv serve site test lint format bench figures clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or later is needed, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch==2.13.0 is pinned in pyproject.toml: the CPU build, not the multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[docs,test]'
	touch $@

venv: $(STAMP)  ## Create .venv and install the package, docs and test tools

site: $(STAMP)  ## Build the static site into site/ (strict: any warning fails)
	$(BIN)/mkdocs build --strict --site-dir site

serve: $(STAMP)  ## Build the site and serve it on http://127.0.0.1:8000, rebuilding on change
	$(BIN)/mkdocs serve --strict --dev-addr $(HOST):$(PORT)

test: $(STAMP) lint  ## Run every test: package, every docs snippet, both languages, the strict site build
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff: lint and formatting
	$(BIN)/ruff check src tests tools hooks
	$(BIN)/ruff format --check src tests tools hooks

format: $(STAMP)  ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix src tests tools hooks
	$(BIN)/ruff format src tests tools hooks

bench: $(STAMP)  ## Benchmark loops vs matmul vs SDPA (not part of `make test`), then redraw and re-check the page
	$(BIN)/python -m attention_notes.benchmark --out src/attention_notes/results/benchmark.json
	$(MAKE) figures
	$(BIN)/python tools/update_outputs.py docs/performance.md docs/performance.en.md

figures: $(STAMP)  ## Redraw the docs' figures from the published results
	$(BIN)/python -m attention_notes.figures --out docs/assets/figures

clean:  ## Remove the built site and caches (keeps .venv)
	rm -rf site .pytest_cache .hypothesis .ruff_cache
