# docbus: two commands for a new user.
#   make run    venv + install + database + migrations + Valkey + topology, then the worker
#   make test   the whole suite (unit, consumers, integration, end-to-end) against real servers
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Port 6380, so that a system Redis on 6379 does not stand in for the Valkey docbus promises.
export DOCBUS_VALKEY_URL ?= redis://127.0.0.1:6380/0

.PHONY: install run test unit lint faults bench asyncapi clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/docbus worker --migrate-first --embedded-valkey

test: install
	$(BIN)/pytest -q

unit: install
	$(BIN)/pytest -q tests/unit tests/consumers

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

faults: install
	$(BIN)/python -m tests.faults.suite

bench: install
	$(BIN)/docbus bench $(ARGS)

asyncapi: install
	$(BIN)/docbus asyncapi -o docs/asyncapi.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
