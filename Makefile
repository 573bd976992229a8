# Zapisy: `make run` serves the app with demo data; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
# The local targets (db, demo, run) are development unless ZAPISY_ENV says otherwise: only there may
# the public development SECRET_KEY sign sessions and /dev/mail list the emails. Unset, the app is production.
DEV_ENV := ZAPISY_ENV=$${ZAPISY_ENV:-development}
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint install install-dev lock translations db demo extract-messages clean serve test-load bench e2e

# Two locks made from pyproject.toml (README, "Dependencies"): requirements.txt is what the
# app runs on, requirements-dev.txt is that plus the test and lint tools. Each has its own
# stamp in the venv, so `make run` installs only the first, `make test` the second, and
# either reinstalls when its lock changes.
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# PyICU (Polish collation of names) is compiled against the system's ICU when a lock holds
# it: that needs ICU's headers, pkg-config, a C++ compiler and Python's headers, installed
# here with apt when missing, as Chromium is for the browser tests (docs/deploy.md, "ICU").
define icu_build_deps
@if grep -qi '^pyicu==' $<; then \
  pkg-config --exists icu-i18n 2>/dev/null && command -v c++ >/dev/null && \
  $(BIN)/python -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_path("include") + "/Python.h"))' || \
  if command -v apt-get >/dev/null; then \
    echo "PyICU is built against the system's ICU: installing libicu-dev, pkg-config, g++ and python3-dev with apt"; \
    $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y libicu-dev pkg-config g++ python3-dev; \
  else \
    echo "PyICU needs ICU's headers (pkg-config icu-i18n), a C++ compiler and Python's headers; see docs/deploy.md, ICU" >&2; exit 1; \
  fi; \
fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# icukit-pyicu (ICU bundled) was replaced by PyICU and both install the module `icu`: an
# older venv drops it first, or the two would overwrite each other's files.
$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(icu_build_deps)
	@grep -qi '^icukit-pyicu==' $< || $(BIN)/pip uninstall --quiet --yes icukit-pyicu 2>/dev/null
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt | $(BIN)/python
	$(icu_build_deps)
	@grep -qi '^icukit-pyicu==' $< || $(BIN)/pip uninstall --quiet --yes icukit-pyicu 2>/dev/null
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

# Re-lock after editing pyproject.toml's dependencies; pins already in the locks are kept,
# but for the packages named in UPGRADE (names as in the locks), or all with UPGRADE=all.
# pip-tools lives in a throwaway venv, never in the app's. The dev lock is constrained by
# the runtime lock, so both hold the same versions of the runtime packages; an upgrade is
# passed to the runtime lock only for packages it holds (pip-compile would add the others).
LOCK_VENV ?= /tmp/zapisy-lock-venv
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
ifeq ($(UPGRADE),all)
LOCK_RUNTIME_UPGRADE := --upgrade
LOCK_DEV_UPGRADE := --upgrade
else
LOCK_RUNTIME_UPGRADE = $(foreach p,$(UPGRADE),$(if $(shell grep -iqE '^$(p)==' requirements.txt && echo y),--upgrade-package $(p)))
LOCK_DEV_UPGRADE = $(foreach p,$(UPGRADE),--upgrade-package $(p))
endif
lock:
	@test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools==7.6.2; }
	$(PIP_COMPILE) $(LOCK_RUNTIME_UPGRADE) --output-file=requirements.txt pyproject.toml
	$(PIP_COMPILE) $(LOCK_DEV_UPGRADE) --extra=dev --constraint=requirements.txt --output-file=requirements-dev.txt pyproject.toml

translations: install
	$(BIN)/pybabel compile -d app/translations --statistics 2>&1 | grep -v '^compiling' || true

db: install translations
	$(DEV_ENV) $(FLASK) db upgrade

demo: db
	$(DEV_ENV) $(FLASK) seed-demo

# The outbox worker runs beside the server (polling every second), so that every email,
# bulk ones included, lands in instance/mail/ at once; it stops with the server.
run: demo
	@export $(DEV_ENV) BASE_URL="$${BASE_URL:-http://$(HOST):$(PORT)}"; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	OUTBOX_POLL_INTERVAL=1 $(FLASK) outbox work & worker=$$!; \
	OUTBOX_DELIVER_AFTER_REQUEST=0 $(FLASK) run --host $(HOST) --port $(PORT)

# ruff (lint and format), the import contracts of .importlinter (docs/architecture.md) and the dependency
# audit (pip-audit; offline, a local advisory database: scripts/audit_deps.py); part of make test.
lint: install-dev
	$(BIN)/ruff check app tests bench migrations scripts
	$(BIN)/ruff format --check app tests bench migrations scripts
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/audit_deps.py

test: install-dev translations lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Production-like local trial: gunicorn on 127.0.0.1:8000 with ZAPISY_ENV=production,
# after `flask db upgrade`, and the outbox worker beside it (requests never send mail; without
# MAIL_SERVER it writes .eml files to instance/mail/, which production does only when told to). Without SECRET_KEY in the environment, a random key is
# generated once into instance/secret_key (kept, so sessions survive restarts).
# Plain HTTP here, so cookies are not marked Secure; see docs/deploy.md for the real thing.
SERVE_HOST ?= 127.0.0.1
SERVE_PORT ?= 8000
serve: install translations
	@if [ -z "$$SECRET_KEY" ] && [ ! -s instance/secret_key ]; then \
	  mkdir -p instance && (umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > instance/secret_key) && \
	  echo "SECRET_KEY is not set: generated instance/secret_key for this local trial (set SECRET_KEY in a real deployment)."; \
	fi
	@export ZAPISY_ENV=production SECRET_KEY="$${SECRET_KEY:-$$(cat instance/secret_key)}" \
	  BASE_URL="$${BASE_URL:-http://$(SERVE_HOST):$(SERVE_PORT)}" \
	  SESSION_COOKIE_SECURE="$${SESSION_COOKIE_SECURE:-0}" PREFERRED_URL_SCHEME="$${PREFERRED_URL_SCHEME:-http}" \
	  OUTBOX_MAIL_DIR="$${OUTBOX_MAIL_DIR:-instance/mail}"; \
	  $(FLASK) db upgrade && \
	  { trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	    $(FLASK) outbox work & worker=$$!; \
	    $(BIN)/gunicorn -c gunicorn.conf.py --bind $(SERVE_HOST):$(SERVE_PORT); }

# Only the load tests (gunicorn + concurrent clients; PostgreSQL too when TEST_DATABASE_URL is set).
test-load: install-dev translations
	$(BIN)/python -m pytest tests/test_load.py $(PYTEST_ARGS)

# Only the browser tests (tests/e2e, also part of make test): Playwright drives Debian's
# Chromium, installed here with apt when missing (as root, else with sudo); axe-core from npm.
# Screenshots land in test-artifacts/e2e/screenshots/.
AXE := tests/e2e/node_modules/axe-core/axe.min.js
$(AXE): tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	touch $@

e2e: install-dev translations $(AXE)
	@command -v chromium >/dev/null || { $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver; }
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# Every benchmark with small sizes (a few minutes); docs/benchmarks.md has the full runs.
bench: install-dev translations
	$(BIN)/python bench/load.py --quick
	$(BIN)/python bench/flow.py --registrations 200
	$(BIN)/python bench/instructions.py --registrations 3
	$(BIN)/python bench/allocation.py --sizes 500 5000
	$(BIN)/python bench/export.py --sizes 10000
	$(BIN)/python bench/outbox.py --messages 500
	$(BIN)/python bench/admin_list.py --people 10000 --db /tmp/zapisy-bench-admin-list-10k.sqlite --repeat 3

# Re-extract messages after changing user-facing text: the .po files under app/translations/
# are the only source of translations (README, "Translations"). New messages arrive untranslated
# (or as fuzzy guesses to review); translate them in the .po file (Poedit, Weblate or an editor),
# then `make translations`. tests/test_i18n.py fails while a Polish message is missing or fuzzy.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o messages.pot --project=Zapisy --copyright-holder="Zapisy contributors" --sort-by-file .
	$(BIN)/pybabel update -i messages.pot -d app/translations -l pl --ignore-obsolete
	$(BIN)/pybabel update -i messages.pot -d app/translations -l en --ignore-obsolete --no-fuzzy-matching
	rm -f messages.pot
	@$(BIN)/pybabel compile -d app/translations --statistics 2>&1 | grep -v '^compiling' || true

clean:
	rm -rf $(VENV) instance
