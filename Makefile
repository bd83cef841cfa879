# The two commands of the README: `make serve` (install, build the demo, run site + gate, print a
# link) and `make test` (every test). Everything else here supports those two.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium

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

# Browser tests drive Debian's Chromium; install it (and nginx for the hosting tests) if missing.
system-deps:
	@missing=""; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check generator tests bench
	$(BIN)/mypy generator

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py

clean:
	rm -rf site .trustcenter $(VENV) .pytest_cache .mypy_cache .ruff_cache
