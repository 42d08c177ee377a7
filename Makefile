# Targets explain themselves with `##`; `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8000

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# The integrators' client package (clients/python) is installed beside the gateway: its
# tests run against a live gateway in tests/clients, and `make lint` checks it.
$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e clients/python
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the gateway, its dev tools and the client package

run: $(STAMP) ## run the API, a worker and the workspace on the embedded default (PORT=8000)
	$(BIN)/gateway demo --port $(PORT)

test: $(STAMP) chromium promtool ## run the whole test suite (unit, API, integration, browser)
	$(BIN)/pytest -n 2 --dist loadgroup

# The browser test drives Debian's Chromium through Playwright (never Playwright's own
# browser downloads). Without it the test is skipped and says why.
chromium: ## install Debian's Chromium for the browser test when it is missing (root)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	      || echo "chromium could not be installed: the browser test will be skipped"; \
	  else \
	    echo "no /usr/bin/chromium and no root apt-get: the browser test will be skipped"; \
	  fi; \
	fi

# The alert rules are checked and unit-tested by Prometheus's own promtool, Alertmanager's
# routes by amtool (Debian's prometheus and prometheus-alertmanager packages; their daemons
# are not started) and the Kubernetes manifests rendered by kubectl's kustomize (the
# kubectl package). Without them those tests are skipped and say why.
promtool: ## install promtool, amtool and kubectl for the deploy tests when missing (root)
	@missing=""; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v amtool >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v kubectl >/dev/null || missing="$$missing kubectl"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's$$missing for the deploy tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	       --no-install-recommends $$missing) \
	      || echo "$$missing could not be installed: those deploy tests will be skipped"; \
	  else \
	    echo "no$$missing and no root apt-get: those deploy tests will be skipped"; \
	  fi; \
	fi

# The keys are extracted from the code and templates (babel.cfg) and merged into the .po
# files; a new key arrives empty in each language, and tests/web/test_messages.py fails
# until it is translated. The .po files are compiled when the workspace is imported.
messages: $(STAMP) ## extract the workspace's message keys and merge them into its .po files
	$(BIN)/pybabel extract -F babel.cfg -k t -k plain -k N_ --no-default-keywords \
	  --no-location --omit-header -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d gateway/web/locale -D messages \
	  --no-fuzzy-matching --ignore-obsolete -w 100

lint: $(STAMP) ## ruff, mypy (strict, the gateway and clients/python) and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd clients/python && $(abspath $(BIN))/mypy
	$(BIN)/lint-imports

bench: $(STAMP) ## every benchmark on the local PostgreSQL and broker, one table of figures, targets and floors
	$(BIN)/python bench/all.py

bench-quick: $(STAMP) ## the same table from smaller runs (a few minutes)
	$(BIN)/python bench/all.py --quick

bench-pricing: $(STAMP) ## pricing throughput of one process, in batches, on a fresh PostgreSQL database
	$(BIN)/python bench/pricing.py

clean: ## remove the virtualenv, caches and demo databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache gateway*.sqlite* build *.egg-info

.PHONY: help install run test chromium promtool lint bench bench-quick bench-pricing clean
