# Two commands for a newcomer on a fresh machine: `make demo` and `make test`.
# Both create .venv and install skae into it first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch, installed before anything else can pull a CUDA one.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint docs bench install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $@

# The tests also exercise the speech corpus (skipped with a reason when the
# espeak-ng program is missing: .ci/run installs it with apt-get).
$(VENV)/.test-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[test,docs,speech]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.lint-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[lint]"
	touch $@

# ruff (lint and format), the layer contract of docs/design.md, and the
# public API's type hints ([tool.mypy] in pyproject.toml).
lint: $(VENV)/.lint-installed
	$(VENV)/bin/ruff check skae tests benchmarks examples docs/conf.py docs/_gallery_checks.py
	$(VENV)/bin/ruff format --check skae tests benchmarks examples docs/conf.py docs/_gallery_checks.py
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy skae

demo: $(VENV)/.installed
	$(PY) -m skae demo --out demo_output

test: $(VENV)/.test-installed
	$(PY) -m pytest $(PYTEST_ARGS)

# The HTML site in docs/_build/html, gallery examples run; warnings are errors.
# SKAE_DOCS_FAST=1 skips running the gallery.
docs: $(VENV)/.installed
	$(PY) -m sphinx -W --keep-going -b html -q docs docs/_build/html

bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/bench_speed.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache docs/_build docs/api/generated docs/auto_examples docs/benchmarks
