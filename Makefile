# The two commands in the README: `make demo` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: demo test install lint bench up clean

install: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

demo: install
	$(PY) -m devstack demo

up: install
	$(PY) -m devstack up

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .devstack .pytest_cache
