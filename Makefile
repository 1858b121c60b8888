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

# The live-mesh tests run a real Redis and a real Prometheus (Debian's packages); installing
# them needs root (`sudo make system-deps` once), see the README.
system-deps:
	@if ! command -v redis-server >/dev/null || ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing redis-server and prometheus with apt-get (the live-mesh tests run them)" >&2; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server prometheus >/dev/null; \
	  else echo "the live-mesh tests need redis-server and prometheus: run 'sudo make system-deps' (apt-get) or install them, then make test again" >&2; exit 1; fi; \
	fi

test: install system-deps
	$(PY) -m pytest

demo: install
	$(VENV)/bin/aither-wm demo --out runs/demo

lint: install
	$(VENV)/bin/ruff check aither_wm tests plugins
	$(VENV)/bin/ruff format --check aither_wm tests plugins
	$(VENV)/bin/lint-imports
