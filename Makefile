# docbus: two commands for a new user.
#   make run    venv + install + database + migrations + Valkey + topology, then the worker
#   make test   the whole suite (unit, consumers, integration, end-to-end) against real servers
#   make fuzz   the fuzzing tier, long and random (DOCBUS_FUZZ_EXAMPLES, default 3000)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Port 6380, so that a system Redis on 6379 does not stand in for the Valkey docbus promises.
export DOCBUS_VALKEY_URL ?= redis://127.0.0.1:6380/0

.PHONY: install tools run test unit client lint fuzz faults bench asyncapi lock clean

# The locked versions first (hash-checked, requirements/dev.txt), then docbus itself from
# the checkout, which then finds every dependency already there.
$(STAMP): pyproject.toml client/pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet -e ./client -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# The Cerbos policy decision point (DOCBUS_ACCESS_DECIDER=cerbos): the binary of the npm
# registry's @cerbos/cerbos-linux-x64, pinned, into .tools/cerbos (the tests start it).
CERBOS_VERSION := 0.55.0
CERBOS := .tools/cerbos
$(CERBOS):
	rm -rf .tools/npm && mkdir -p .tools/npm
	cd .tools/npm && npm pack --silent @cerbos/cerbos-linux-x64@$(CERBOS_VERSION) >/dev/null \
	  && tar xzf cerbos-cerbos-linux-x64-$(CERBOS_VERSION).tgz
	mv .tools/npm/package/cerbos-linux-x64 $(CERBOS) && chmod +x $(CERBOS) && rm -rf .tools/npm
	$(CERBOS) --version | head -1

# Test tools that are not Python packages: the Cerbos binary (above), and promtool
# (Debian's prometheus package), which validates the alert rules: installed when missing
# and the machine can (root with apt); otherwise the tests that need it say so and skip.
tools: $(CERBOS)
	@command -v promtool >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
	  && [ "$$(id -u)" = 0 ] && { apt-get install -y -q --no-install-recommends prometheus \
	  >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q \
	  --no-install-recommends prometheus >/dev/null 2>&1; }; } \
	  || echo "promtool not installed: the alert-rule tests will skip"; }

# /healthz, /readyz and /metrics on http://127.0.0.1:9464 while `make run` runs.
run: install
	DOCBUS_HTTP_PORT=$${DOCBUS_HTTP_PORT:-9464} $(BIN)/docbus worker --migrate-first --embedded-valkey

test: install tools
	$(BIN)/pytest -q

unit: install
	$(BIN)/pytest -q tests/unit tests/consumers

# The client installed alone in a fresh venv (no worker), running its own tests.
client: install
	$(BIN)/pytest -q tests/packaging

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# A long random run of the fuzzing tier (make test runs 100 examples with a fixed seed).
# A failure is shrunk to its smallest message and kept in .hypothesis/ for the next run;
# DOCBUS_FUZZ_SURVEY=1 lists every property that fails instead of stopping at the first.
fuzz: install
	DOCBUS_FUZZ_EXAMPLES=$${DOCBUS_FUZZ_EXAMPLES:-3000} DOCBUS_FUZZ_PROFILE=fuzz \
		$(BIN)/pytest -q tests/fuzz

faults: install
	$(BIN)/python -m tests.faults.suite

bench: install
	$(BIN)/python -m bench $(ARGS)

asyncapi: install
	$(BIN)/docbus asyncapi -o docs/asyncapi.json

clean:
	rm -rf $(VENV) .venv-lock .tools .pytest_cache .mypy_cache .ruff_cache

# Refresh the lock files (requirements/*.txt, hashes included) from pyproject.toml after a
# dependency changed there; pip-tools runs from a venv of its own (.venv-lock).
# `make lock ARGS=--upgrade` moves every pin to the newest release the ranges allow.
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links \
	--unsafe-package docbus --unsafe-package docbus-client $(ARGS)
lock:
	test -x .venv-lock/bin/pip-compile || { $(PYTHON) -m venv .venv-lock \
	  && .venv-lock/bin/pip install --quiet pip-tools; }
	CUSTOM_COMPILE_COMMAND='make lock' .venv-lock/bin/pip-compile $(LOCK_FLAGS) -o requirements/runtime.txt requirements/runtime.in
	CUSTOM_COMPILE_COMMAND='make lock' .venv-lock/bin/pip-compile $(LOCK_FLAGS) -o requirements/dev.txt requirements/dev.in
