# Two commands matter: `make run` and `make test`. Both install what is missing first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
HOTLINE := $(VENV)/bin/hotline
# The tests find PostgreSQL through HOTLINE_TEST_PG_URL, else the role and generated password
# scripts/pg-role.sh set up (tests/support/pg_url.py).

.PHONY: run test test-years setup system venv command vendor a11y asterisk lint unit fast integration bench clean

# `make run CLUSTER=1`: the edge (Kamailio) and two Asterisk nodes in network namespaces.
run: setup asterisk
	$(HOTLINE) up $(if $(CLUSTER),--cluster)

test: setup asterisk lint
	$(PY) -m pytest -p no:cacheprovider tests

# The calendar-dependent tests with the process clock in 2027 and in 2028 (libfaketime; the
# monotonic fix keeps Python's sleeps valid under it). CI runs the pure ones in the suite.
# Nothing is left out: a voicemail's idle time is read on the clock that stamps its file
# (hotline/voicemail/store.py file_clock), so a moved process clock no longer takes a message
# mid-recording.
YEARS ?= 2027-06-15 2028-12-20
test-years: setup asterisk
	for day in $(YEARS); do \
	  FAKETIME_FORCE_MONOTONIC_FIX=1 faketime "$$day 10:00:00" \
	    $(PY) -m pytest -p no:cacheprovider -m calendar tests || exit 1; \
	done

setup: system venv vendor a11y

# The browser libraries the desktop serves itself (SIP.js for the WebRTC softphone), from npm at
# the versions in hotline/desk/vendor/package-lock.json; not committed (hotline/desk/vendor/node_modules).
VENDOR := hotline/desk/vendor
vendor: $(VENDOR)/node_modules/.package-lock.json

$(VENDOR)/node_modules/.package-lock.json: $(VENDOR)/package.json $(VENDOR)/package-lock.json
	npm ci --prefix $(VENDOR) --no-audit --no-fund --loglevel=error

# axe-core from npm (the lock file pins it) for the browser tests' accessibility scan.
a11y: tests/a11y/node_modules/.package-lock.json

tests/a11y/node_modules/.package-lock.json: tests/a11y/package.json tests/a11y/package-lock.json
	npm ci --prefix tests/a11y --no-audit --no-fund

system:
	bash scripts/setup-system.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@
	$(MAKE) --no-print-directory command

# `hotline` by that name in the shell: a link in /usr/local/bin to this checkout's command, made
# as root when the name is free or already a link (a real program there is left alone).
command:
	@if [ "$$(id -u)" = 0 ] && { [ ! -e /usr/local/bin/hotline ] || [ -L /usr/local/bin/hotline ]; }; then \
	  ln -sfn "$(CURDIR)/$(VENV)/bin/hotline" /usr/local/bin/hotline; \
	  echo "setup: hotline -> $(CURDIR)/$(VENV)/bin/hotline"; fi

# Builds (or reuses) the Asterisk 22 root filesystem in the cache directory.
asterisk: venv
	$(HOTLINE) asterisk build

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# Tests live beside their feature (tests/<feature>/); the tiers are markers, not folders.
unit: fast

# Every test that needs no real part (markers read from the fixtures a test uses, tests/conftest.py).
fast: venv
	$(PY) -m pytest -p no:cacheprovider -m "not asterisk and not postgres and not redis and not mqtt and not browser" tests

integration: setup asterisk
	$(PY) -m pytest -p no:cacheprovider -m "asterisk or postgres or redis or mqtt or browser" tests

bench: setup asterisk
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(VENDOR)/node_modules
