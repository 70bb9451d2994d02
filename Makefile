# The two commands in the README: `make demo` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# The IaC security scanner lives in its own virtualenv: it pins an older pycep-parser than the tests.
SCAN_VENV := $(VENV)/iac-scan
STAMP_SCAN := $(SCAN_VENV)/.installed
# Tests and tools install from these locks (every package pinned), so a release elsewhere cannot turn
# CI red, or green, overnight. `make lock` refreshes them from requirements-dev.txt (which reads
# requirements.txt, the deployed app's ranges) and tests/infra/requirements-scan.txt.
LOCK := requirements-dev.lock
SCAN_LOCK := tests/infra/requirements-scan.lock
# Resolved for the Python and platform of CI and the function app (Flex Consumption runs Linux).
LOCK_COMPILE = $(PY) -m uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)

.PHONY: demo test test-fast install lint lock bench chaos up clean iac-scan

install: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(PY) -m pip install --quiet -r $(LOCK)
	# The operator's console script (translation-ops), from this checkout.
	$(PY) -m pip install --quiet --no-deps -e .
	# tests/integration/worker: the maintainers' worker library (it declares Python 3.13, is pure Python and runs on 3.11).
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python azure-functions-runtime==1.3.0
	touch $@

$(STAMP_NODE): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP_SCAN): $(SCAN_LOCK)
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet -r $(SCAN_LOCK)
	touch $@

# After editing requirements-dev.txt, requirements.txt or tests/infra/requirements-scan.txt: pins what
# was added or changed and keeps every other pin. `make lock UPGRADE=1` moves every pin to the newest
# release the ranges allow. Then `make install` installs the new lock.
lock: $(STAMP_PY)
	$(LOCK_COMPILE) requirements-dev.txt -o $(LOCK)
	$(LOCK_COMPILE) tests/infra/requirements-scan.txt -o $(SCAN_LOCK)

test: install iac-scan lint
	$(PY) -m pytest

# The edit-run loop: unit and infra tests, in seconds (no Azurite, no emulator).
test-fast: install
	$(PY) -m pytest -q tests/unit tests/infra

# checkov over infra/: every check passes or is skipped with a reason next to its resource.
iac-scan: install $(STAMP_SCAN)
	$(PY) -m tests.infra.iac_scan $(SCAN_VENV)/bin/checkov

demo: install
	$(PY) -m devstack demo

up: install
	$(PY) -m devstack up

# Lint, format and types: ruff, ruff format and mypy (strict on shared/).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: install
	$(PY) -m bench

# The fault matrix on the local stack (about 10 minutes); not part of `make test`.
chaos: install
	$(PY) -m chaos

clean:
	rm -rf $(VENV) node_modules .devstack .pytest_cache
