# One entry point for set-up, the demo and the checks. `make check` is exactly what CI runs.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo check test lint types setup clean bench bench-tiling browser compose-parser

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

test: $(STAMP) browser compose-parser
	$(VENV)/bin/python -m pytest

# The browser tests (tests/viewer) drive Debian's Chromium (/usr/bin/chromium, never
# `playwright install`); `make test`, and so `make check`, sees to it first. As root (CI
# containers) it is installed when absent (apt-get update only if the package is unknown);
# otherwise it says how. With CI=true the tests fail without it; elsewhere they skip.
CHROMIUM := /usr/bin/chromium

browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends chromium \
			|| { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	else \
		echo "$(CHROMIUM) is absent and this is not root: the browser tests will skip" \
			"(sudo apt-get install chromium to run them)"; \
	fi

# The deployment test (tests/docker) validates docker/compose.yaml with a real compose parser
# (Debian's docker-compose; no Docker engine is needed or run) and docker/Caddyfile with Caddy's
# own; `make bench` puts the API processes behind that Caddy. Installed here like chromium.
COMPOSE := /usr/bin/docker-compose
CADDY := /usr/bin/caddy

compose-parser:
	@if [ -x $(COMPOSE) ] && [ -x $(CADDY) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "Installing Debian's docker-compose and caddy to check docker/"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends docker-compose caddy \
			|| { apt-get update && apt-get install -y --no-install-recommends docker-compose caddy; }; \
	else \
		echo "$(COMPOSE) or $(CADDY) is absent and this is not root: the compose tests will skip" \
			"(sudo apt-get install docker-compose caddy to run them)"; \
	fi

check: lint types test

# Every benchmark, each beside its baseline from the same run: benchmarks/results/ and
# benchmarks/RESULTS.md (see benchmarks/README.md).
# py-spy profiles the serving benchmark's API process (a measuring tool, not a dependency).
bench: $(STAMP) browser compose-parser
	$(VENV)/bin/python -m pip install --quiet py-spy
	$(VENV)/bin/python -m benchmarks.run_all

bench-tiling: $(STAMP)
	$(VENV)/bin/python -m benchmarks.tiling

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
