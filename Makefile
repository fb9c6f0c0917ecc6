# The two commands: `make demo` (dashboard on the sandbox) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-clock install lint benchmark benchmark-scale benchmark-dashboard clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Web server, django-q2 worker and sandbox emulators together; Ctrl-C stops them all.
demo: $(STAMP)
	SANDBOX=true DEBUG=true $(BIN)/python manage.py demo

# The whole suite. The tests talk to in-process emulators (SANDBOX=true only
# fills the settings; nothing leaves the machine).
test: $(STAMP)
	SANDBOX=true $(BIN)/python -m pytest $(PYTEST_ARGS)

# The suite with the machine's clock a year ahead, starting a minute before midnight so the
# date changes while it runs (libfaketime; Debian: apt-get install faketime): a test that
# reads the real clock or pins a date fails here first.
test-clock: $(STAMP)
	SANDBOX=true FAKETIME_DONT_RESET=1 faketime -f "@$$(date -u -d '+1 year' +%F) 23:59:00" \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Measuring tools, not tests (README "Benchmarks"); extra options: BENCH_ARGS="--repeat 5".
benchmark: $(STAMP)
	SANDBOX=true $(BIN)/python benchmarks/sync_benchmark.py $(BENCH_ARGS)

# Initial and no-change sync of 3×B and 10×B, emulators in their own process so the peak RSS
# is the product's. Slow: real loopback HTTP, 10×B is 112,000 entities (tens of minutes).
benchmark-scale: $(STAMP)
	SANDBOX=true $(BIN)/python benchmarks/sync_benchmark.py --scale 3 --emulators process \
		--only no_change $(BENCH_ARGS)
	SANDBOX=true $(BIN)/python benchmarks/sync_benchmark.py --scale 10 --emulators process \
		--only no_change $(BENCH_ARGS)

# Every dashboard page and admin list at issue 11's sizes (100k change records, 5k runs,
# 50k webhook deliveries, 100k time entries): queries and p50/p95 per page. SQLite, then
# PostgreSQL in a throwaway test_ database when DATABASE_URL points at one.
benchmark-dashboard: $(STAMP)
	env -u DATABASE_URL $(BIN)/python benchmarks/dashboard_benchmark.py $(BENCH_ARGS)
	@case "$$DATABASE_URL" in postgres*) $(BIN)/python benchmarks/dashboard_benchmark.py $(BENCH_ARGS);; esac

clean:
	rm -rf $(VENV) var
