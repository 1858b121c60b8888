# The two commands of the README. Both set everything up on a fresh machine first.
#   make demo   -> the main job (aither-wm demo on embedded local Ray)
#   make test   -> the whole test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python

.PHONY: install test demo lint bench system-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# The live-mesh tests run a real Redis and a real Prometheus (Debian's packages).
system-deps:
	@if ! command -v redis-server >/dev/null || ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server prometheus >/dev/null; \
	  else echo "install redis-server and prometheus (e.g. sudo apt-get install redis-server prometheus)"; exit 1; fi; \
	fi

test: install system-deps
	$(PY) -m pytest

demo: install
	$(VENV)/bin/aither-wm demo --out runs/demo

lint: install
	$(VENV)/bin/ruff check aither_wm tests plugins
	$(VENV)/bin/ruff format --check aither_wm tests plugins
	$(VENV)/bin/lint-imports
