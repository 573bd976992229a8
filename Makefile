# Zapisy: `make run` serves the app with demo data; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install translations db demo extract-messages clean

$(BIN)/activate: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(BIN)/activate

install: $(BIN)/activate

translations: install
	$(BIN)/pybabel compile --use-fuzzy -d app/translations --statistics 2>&1 | grep -v '^compiling' || true

db: install translations
	$(FLASK) db upgrade

demo: db
	$(FLASK) seed-demo

run: demo
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install translations
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Re-extract messages after changing user-facing text; add the Polish for any
# message it lists as missing to scripts/translations_pl.py and run it again.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o messages.pot --no-location --omit-header .
	$(BIN)/pybabel update -i messages.pot -d app/translations --no-fuzzy-matching --ignore-obsolete
	rm -f messages.pot
	$(BIN)/python scripts/fill_catalogs.py

clean:
	rm -rf $(VENV) instance
