# The two commands: `make run` and `make test`. Everything else is a step they take.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install assets bytecode clean

# uv installs what pip would, from the same registry, in parallel: ~13 s where pip took ~60 s on a fresh clone.
# Third-party modules are compiled here too: with PYTHONDONTWRITEBYTECODE set, no process could keep its own.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.10
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) assets bytecode

assets: $(STAMP)
	$(BIN)/python -m kernel.graphiql.assets

# Our modules compiled once: with PYTHONDONTWRITEBYTECODE set (as on this machine) every process would compile them
# again, ~0.7 s of CPU per start of `compass serve` or any command, and the suite starts a few hundred.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 kernel credentials compass director connector agent dataplane gateway events \
		watcher broker migrations tlsext testing demo bench tests

run: install
	$(BIN)/compass serve --demo

# The seed tutorials' workflow on one machine: a server, a runtime (agent, gateway, event ingress) and a sample
# application (demo/shop.py), each step printing what it proved; everything stopped at the end or on Ctrl-C.
.PHONY: demo
demo: install
	$(BIN)/python -m demo

# The architecture contracts (import-linter), then ruff and mypy: all configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check
	$(BIN)/mypy

# Three pytest workers (pytest-xdist), each test file on one of them, on this machine's two cores: the tests wait a
# good part of their time (on PostgreSQL, on the processes they start, on timeouts they provoke), and a third worker
# fills those gaps. Measured back to back on the idle machine: 21 min 21 s with two workers, 17 min 30 s with three.
PYTEST_WORKERS ?= 3
test: install
	$(MAKE) --no-print-directory --output-sync=target -j 2 lint test-programs test-modules
	scripts/with-postgres.sh $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# pytest rewrites each test module's asserts when it imports it, and keeps the result only where Python may write
# bytecode: with PYTHONDONTWRITEBYTECODE set (as on this machine) each worker rewrote all of them again (22 s of
# its CPU to collect the suite; 12 s with them kept). Collected once here, beside lint, they are kept for both.
.PHONY: test-modules
test-modules: $(STAMP)
	@out=$$(PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --collect-only -q -p no:cacheprovider) || { echo "$$out"; exit 1; }

# The programs the suite starts, installed with apt when missing (on a new machine apt spends most of its time
# waiting on downloads: `make test` lints meanwhile).
.PHONY: test-programs
test-programs:
	scripts/install-browser.sh
	scripts/install-nats.sh
	scripts/install-postgres.sh >/dev/null

# The Director's answers against a bare baseline, then one runtime's poll cost against GET /healthz (issue 15).
bench: install
	scripts/with-postgres.sh $(BIN)/python bench/director.py
	scripts/with-postgres.sh $(BIN)/python bench/fleet.py --poll-cost

# R runtimes polling `compass serve --workers W` over mTLS: the largest fleet with p99 < 250 ms, for W = 1 and 2,
# each runtime on a kept connection every 20 s as Compass's agents poll (issue 15's goal: 20,000 at W = 2), the
# runtimes' first polls (handshake, first view) spread over a 60 s warm-up.
.PHONY: bench-fleet
bench-fleet: install
	scripts/with-postgres.sh $(BIN)/python bench/fleet.py --find-max --workers 1,2 --runtimes 200 --period 20 --warmup 60 --duration 40 --max-runtimes 20000 --profile $(FLEET_ARGS)

# 5,000 runtimes on `compass serve --workers 2`, each also holding its change stream (GET /director/changes) and
# polling when told: an operator's change reaching every affected runtime (issue 15's goal: p99 < 2 s), and what
# the open streams cost the server. F = 100 formations of 50 runtimes and one application (a change every 5 s
# reaches 50 runtimes): a formation's assignments pair every two participants, so registering 5,000 runtimes in
# the default 10 formations of 500 would take most of the bench's time.
.PHONY: bench-push
bench-push: install
	scripts/with-postgres.sh $(BIN)/python bench/fleet.py --push --runtimes 5000 --workers 2 --period 20 --formations 100 --change-every 5 --warmup 120 --duration 40 $(FLEET_ARGS)

# Calls through one compass-gateway process against direct calls and a bare forwarder (bench/README.md).
.PHONY: bench-gateway
bench-gateway: install
	$(BIN)/python bench/gateway.py

# Events from an application over mTLS into one compass-events process, stored and delivered, against a bare
# endpoint on the same TLS; NATS JetStream too when nats-server is installed (bench/README.md).
.PHONY: bench-events
bench-events: install
	$(BIN)/python bench/events.py --repeat 3

# The Runtime Watcher's spool through an outage: N = 500 admission reviews to one `compass-watcher serve` with the
# control plane (a real `compass serve`) up, down, back, then with WATCHER_SPOOL_MAX_EVENTS = 100 (bench/watcher.py).
.PHONY: bench-watcher
bench-watcher: install
	$(BIN)/python bench/watcher.py --events 500 --spool-max 100 $(WATCHER_ARGS)

clean:
	rm -rf $(VENV) .compass .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
