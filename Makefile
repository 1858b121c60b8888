# The two commands of the README. Both set everything up on a fresh machine first.
#   make demo   -> the main job (aither-wm demo on embedded local Ray)
#   make test   -> the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: install test demo lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest

demo: install
	$(VENV)/bin/aither-wm demo --out runs/demo

lint: install
	$(VENV)/bin/ruff check aither_wm tests plugins
	$(VENV)/bin/ruff format --check aither_wm tests plugins
	$(VENV)/bin/lint-imports
