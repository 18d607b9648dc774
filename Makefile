# Two commands for a fresh machine: `make serve` (build and serve the site) and
# `make test` (every test). Both create .venv and install what they need on
# first use; later runs reuse it until pyproject.toml or constraints.txt change.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# In node_modules, not .venv: the two installs run at once (see setup).
BROWSER_STAMP := node_modules/.browser-installed
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# PyPI's torch for Linux x86-64 is the CUDA build (several GB). `make test TORCH_CPU=1`
# (or TORCH_CPU=1 in the environment) adds PyTorch's CPU-only wheel index, from which
# pip then takes torch 2.13.0+cpu for the same pin. macOS and Linux arm64 wheels on
# PyPI are CPU-only already. Off by default.
TORCH_CPU ?= 0
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
PIP_TORCH := $(if $(filter 1 yes true,$(TORCH_CPU)),--extra-index-url $(TORCH_CPU_INDEX))
# Material prints an end-of-life banner on every build; it says nothing about ours.
export NO_MKDOCS_2_WARNING := 1

.DEFAULT_GOAL := help
.PHONY: help venv browser setup _installs serve site offline test test-cpu-paths lint format bench figures clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or later is needed, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch==2.13.0 pins a version, not a build: which build arrives depends on the
	# index (see TORCH_CPU above).
	# torch with pip, which takes it from the index TORCH_CPU chooses (and, on our own
	# machines, from a local wheel that uv would not look at), and uv with it; then the
	# rest with uv, pinned by the same constraints: it resolves and downloads in
	# parallel (about 4 s against pip's 46 s for the same packages, measured on two
	# cores), and the torch just installed already satisfies its pin.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(PIP_TORCH) -c constraints.txt torch uv
	$(UV) -c constraints.txt -e '.[docs,test]'
	# The book's package, a test-only reference (tests/test_references.py), without its
	# dependencies: its wheel declares TensorFlow (hundreds of MB), JupyterLab, pandas and
	# numpy<2.1 (which conflicts with our numpy); its llama3 module needs only torch and
	# tiktoken, which the test extras install.
	$(UV) --no-deps -c constraints.txt llms-from-scratch==1.0.19
	touch $@

venv: $(STAMP)  ## Create .venv and install the package, docs and test tools

# The stamp is written only once chromium, a Japanese font and axe-core are all
# there: until then every `make test` tries again (and the browser tests skip,
# saying why), so installing chromium later is enough for the next run to use it.
$(BROWSER_STAMP): package.json package-lock.json tools/install_browser.sh
	tools/install_browser.sh
	if tools/install_browser.sh --check; then touch $@; fi

browser: $(BROWSER_STAMP)  ## Install chromium (as root on Debian), a Japanese font and axe-core for the browser tests

# What `make test` needs, both installs at once: on a new machine apt-get fetches
# chromium while pip and uv fill .venv (run as a sub-make with two jobs, so that
# `make test` alone overlaps them).
setup:  ## Create .venv and install the browser tools, the two at once
	@$(MAKE) --no-print-directory -j2 _installs

_installs: $(STAMP) $(BROWSER_STAMP)
	@:

site: $(STAMP)  ## Build the static site into site/ (strict: any warning fails)
	$(BIN)/mkdocs build --strict --site-dir site

offline: $(STAMP)  ## Build the offline bundle (works from file://, search included) into dist/
	rm -rf site-offline
	OFFLINE=true $(BIN)/mkdocs build --strict --site-dir site-offline
	$(BIN)/python tools/zip_site.py site-offline dist/attention-notes-offline.zip

serve: $(STAMP)  ## Build the site and serve it on http://127.0.0.1:8000, rebuilding on change
	$(BIN)/mkdocs serve --strict --dev-addr $(HOST):$(PORT)

# `make test PAGE=causal-attention`: only what checks that page (its snippets,
# both languages' parity, its built HTML, its browser checks); see tests/conftest.py.
test: setup  ## Run every test (PAGE=name: one page's); package, snippets, both languages, build, browser
	@$(MAKE) --no-print-directory lint
	$(if $(PAGE),PAGE=$(PAGE)) $(BIN)/python -m pytest

# Training results and printed floats depend on the CPU's vector kernels: every
# snippet, the notebook and the tests against reference implementations again,
# under ATen's AVX2 and its plain (no SIMD)
# kernels, so that a tolerance that is too tight fails here rather than on a
# reader's machine. CI runs these inside `make test` (CPU_PATHS=avx2,default).
test-cpu-paths: $(STAMP)  ## Every snippet, the notebook and the reference tests under two other CPU code paths
	CPU_PATHS=avx2,default $(BIN)/python -m pytest -m cpu_path

lint: $(STAMP)  ## ruff: lint and formatting
	$(BIN)/ruff check src tests tools hooks
	$(BIN)/ruff format --check src tests tools hooks

format: $(STAMP)  ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix src tests tools hooks
	$(BIN)/ruff format src tests tools hooks

# Every published measurement, then the figures and the pages' printed tables.
# tests/test_results_fresh.py and tests/test_generation.py name the file to
# measure again when the code it timed changes; tests/test_prose_numbers.py
# names the sentences that no longer say what the results say.
bench: $(STAMP)  ## Every benchmark (not part of `make test`), then redraw the figures and the pages' tables
	$(BIN)/python -m attention_notes.lab.benchmark --out src/attention_notes/results/benchmark.json
	$(BIN)/python -m attention_notes.lab.benchmark --multihead --out src/attention_notes/results/multihead.json
	$(BIN)/python -m attention_notes.lab.generation --out src/attention_notes/results/generation.json
	$(BIN)/python -m attention_notes.lab.window_decoding --out src/attention_notes/results/window_decoding.json
	$(BIN)/python -m attention_notes.lab.attention_memory --out src/attention_notes/results/attention_memory.json
	$(MAKE) figures
	$(BIN)/python tools/update_outputs.py docs/performance.md docs/performance.en.md docs/kv-cache.md docs/kv-cache.en.md \
		docs/sliding-window.md docs/sliding-window.en.md docs/flash-attention.md docs/flash-attention.en.md

figures: $(STAMP)  ## Redraw the docs' figures from the published results
	$(BIN)/python -m attention_notes.lab.figures --out docs/assets/figures

clean:  ## Remove the built site and caches (keeps .venv)
	rm -rf site site-offline dist artifacts .pytest_cache .hypothesis .ruff_cache .cache
