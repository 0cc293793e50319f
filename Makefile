# The two commands: `make run` and `make test`. Everything else is a step they take.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install assets clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) assets

assets: $(STAMP)
	$(BIN)/python -m compass.assets

run: install
	$(BIN)/compass serve --demo

test: install
	scripts/install-browser.sh
	scripts/with-postgres.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	scripts/with-postgres.sh $(BIN)/python bench/director.py

clean:
	rm -rf $(VENV) .compass .pytest_cache
