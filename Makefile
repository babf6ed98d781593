# Seams — the two commands are `make run` and `make test`; everything else is what they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
MANAGE := $(BIN)/python manage.py
# The embedded mode: SQLite and in-process jobs, with development defaults.
DEV_ENV := DEBUG=1

.PHONY: help install migrate demo run test lint format check test-unit test-integration \
        worker beat serve clean browser eval-similarity vendor test-contract

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Seams needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed  ## Create the virtualenv and install pinned dependencies

migrate: install  ## Apply migrations (the shipped catalogue is added after every migrate)
	$(DEV_ENV) $(MANAGE) migrate --noinput

demo: migrate  ## Load the demo reviews, the demo login and its demo colleagues
	$(DEV_ENV) $(MANAGE) load_demo
	$(DEV_ENV) $(MANAGE) load_demo_team
	$(DEV_ENV) $(MANAGE) sweep_analyses

run: demo  ## Set everything up and serve Seams on http://127.0.0.1:$(PORT)/
	@echo "Seams is starting on http://127.0.0.1:$(PORT)/ (log in with the demo login above)"
	$(DEV_ENV) $(MANAGE) runserver 127.0.0.1:$(PORT)

# `make serve` is the production server; a trial run needs no reminder of that.
run: export DJANGO_RUNSERVER_HIDE_WARNING := true

serve: install  ## Serve with gunicorn (production settings from the environment)
	$(MANAGE) collectstatic --noinput -v0
	$(BIN)/gunicorn config.wsgi --config config/gunicorn.conf.py --bind 0.0.0.0:$(PORT) --workers 2 --access-logfile -

worker: install  ## A Celery worker (needs REDIS_URL and DATABASE_URL)
	$(BIN)/celery -A config worker --loglevel=info --concurrency=2

beat: install  ## Celery beat: the periodic sweep of stale analyses
	$(BIN)/celery -A config beat --loglevel=info

lint: install  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install  ## Format and fix what ruff can
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install  ## Django system checks and missing migrations
	$(DEV_ENV) $(MANAGE) check
	$(DEV_ENV) $(MANAGE) makemigrations --check --dry-run

# Browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
CHROMIUM ?= /usr/bin/chromium

browser: ## Install Debian's chromium if it is missing (needs root or sudo)
	@test -x $(CHROMIUM) || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

test-unit: install browser  ## Unit and browser tests (SQLite, in-process jobs)
	env -u DATABASE_URL -u REDIS_URL SEAMS_CHROMIUM=$(CHROMIUM) $(BIN)/pytest

test: lint check test-unit  ## Everything a change must pass on a bare machine

test-contract: install  ## schemathesis --checks all with a write token, on gunicorn and the dev server
	tests/contract/run.sh

# The real stack of this machine (and of CI); override to point elsewhere.
INTEGRATION_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/seams
INTEGRATION_REDIS_URL ?= redis://127.0.0.1:6379/11

test-integration: install  ## Tests against the real PostgreSQL, Redis and a Celery worker
	DATABASE_URL=$(INTEGRATION_DATABASE_URL) REDIS_URL=$(INTEGRATION_REDIS_URL) \
		$(BIN)/pytest -m integration tests/integration -p no:cacheprovider

CORPUS ?= ../shared/corpora/icco-postmortems/data

# The held-out sets (bench/similarity/heldout*/README.md): built from local clones of their
# source repositories in HELDOUT_SOURCES; skipped when they are not there. heldout2 is the one
# to report on; heldout was looked at while tuning and is kept to show what carries over.
HELDOUT_SOURCES ?= ../sources
HELDOUT := $(VENV)/heldout
HELDOUT_SETS := heldout heldout2

# The sentence-embedding baseline is an optional extra (about 1.4 GB with a CPU build of torch).
$(VENV)/.embeddings: $(VENV)/.installed requirements-embeddings.txt
	$(BIN)/pip install --quiet -r requirements-embeddings.txt
	touch $@

eval-similarity: $(VENV)/.embeddings  ## Seams against TF-IDF, BM25 and an embedding model, on the tuning corpus and the held-out set
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python bench/similarity/evaluate.py --corpus $(CORPUS)
	@if [ -d "$(HELDOUT_SOURCES)" ]; then \
		for set in $(HELDOUT_SETS); do \
			$(BIN)/python bench/similarity/$$set/build.py --sources $(HELDOUT_SOURCES) --out $(HELDOUT)/$$set/plain && \
			$(BIN)/python bench/similarity/$$set/build.py --sources $(HELDOUT_SOURCES) --out $(HELDOUT)/$$set/templated --inject-template && \
			for variant in plain templated; do \
				env -u DATABASE_URL -u REDIS_URL $(BIN)/python bench/similarity/evaluate.py \
					--corpus $(HELDOUT)/$$set/$$variant --labels bench/similarity/$$set/labels.json || exit 1; \
			done; \
		done; \
	else echo "Held-out sets skipped: no clones in HELDOUT_SOURCES=$(HELDOUT_SOURCES) (see bench/similarity/heldout*/README.md)"; fi

vendor:  ## Refresh the vendored Chart.js from the npm registry (version pinned in package.json)
	cd $$(mktemp -d) && npm pack chart.js@$$(python3 -c "import json;print(json.load(open('$(CURDIR)/package.json'))['dependencies']['chart.js'])") >/dev/null && \
		tar xzf chart.js-*.tgz && cp package/dist/chart.umd.min.js package/dist/chart.umd.min.js.map package/LICENSE.md $(CURDIR)/static/vendor/chart.js/

clean:  ## Remove the virtualenv, the SQLite database and collected static files
	rm -rf $(VENV) seams.sqlite3 staticfiles .pytest_cache .ruff_cache
