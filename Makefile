# `make test` and `make demo` work on a fresh Debian 12 machine as root: they install what
# they need (Debian packages, a virtualenv with the Python dependencies) and then run.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LAUNCHER := $(VENV)/.launcher

.PHONY: setup test lint demo bench clean

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# pip's `vfpnet` script imports site (~4 ms of each CNI call): replaced by a -IS launcher
$(LAUNCHER): $(STAMP) scripts/install-launcher.py native/vfpnet-shim.c
	$(PY) scripts/install-launcher.py $(VENV)/bin/vfpnet
	touch $(LAUNCHER)

setup: $(STAMP) $(LAUNCHER)

lint: $(STAMP) $(LAUNCHER)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy --strict src

test: lint
	$(VENV)/bin/pytest -q

demo: $(STAMP) $(LAUNCHER)
	bash scripts/demo.sh $(VENV)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
