# One entry point for set-up, the demo and the checks. `make check` is exactly what CI runs.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo check test lint types setup clean bench-tiling

NPM_STAMP := viewer/node_modules/.installed

$(STAMP): pyproject.toml $(NPM_STAMP)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The web app's libraries, exactly as the lockfile pins them (nothing from a CDN at run time).
$(NPM_STAMP): viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund
	@touch $(NPM_STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/coupe demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(STAMP)
	$(VENV)/bin/mypy

test: $(STAMP)
	$(VENV)/bin/python -m pytest

check: lint types test

bench-tiling: $(STAMP)
	$(VENV)/bin/python -m benchmarks.tiling

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
