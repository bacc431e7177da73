# Volcengine Image Studio: one entry point for running and testing the product natively.
#
# Every target installs what it needs first, and only what is missing or out of date:
#   .venv           made by python3 -m venv; `pip install -e 'backend[dev]'` when backend/pyproject.toml changes
#   node_modules    `npm ci` when frontend/package-lock.json is newer than the last install
#   frontend/dist   `npm run build` when a frontend source changes
#   nginx, chromium apt-get (as root) when absent
# Settings for run: PORT (3000), DATA_DIR (./data), BIND (127.0.0.1); see scripts/run-local.sh.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.stamp-backend-dev
FRONTEND := $(ROOT)/frontend
# npm writes this file at the end of every install: newer than the lock file = installed from it.
NPM_STAMP := $(FRONTEND)/node_modules/.package-lock.json
DIST := $(FRONTEND)/dist/index.html
RUN_DIR ?= $(ROOT)/run

HAVE_FRONTEND := $(wildcard $(FRONTEND)/package.json)
# Everything the bundle is built from (not node_modules, dist or the unit tests).
FRONTEND_SOURCES := $(if $(HAVE_FRONTEND),$(shell find $(FRONTEND) \( -path $(FRONTEND)/node_modules -o -path $(FRONTEND)/dist -o -path $(FRONTEND)/tests \) -prune -o -type f -print 2>/dev/null))

# pytest exits 5 when it collected nothing; that is a missing suite, not a failure of this target.
define pytest
	rc=0; $(1) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "(no tests collected in $(2))"; rc=0; fi; exit $$rc
endef

.PHONY: help run stop restart status logs test test-lint test-backend test-pg test-s3 test-frontend test-config test-e2e \
        bench client lint clean distclean venv frontend-deps frontend-build system-nginx system-e2e \
        image image-separated image-test

help: ## show this help
	@echo "Volcengine Image Studio - make targets"
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo
	@echo "  make run PORT=3100 DATA_DIR=/srv/studio   run elsewhere; BIND=0.0.0.0 opens it to the network"
	@echo "  make run REPLICAS=3 DATABASE_URL=postgresql+asyncpg://...   three uvicorn replicas behind nginx"

# --- installing ------------------------------------------------------------------------------------

# --no-compile: byte-code is written on first import instead (a third of the install time here).
$(VENV_STAMP): $(ROOT)/backend/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed ($(PYTHON) is $$($(PYTHON) -V 2>&1))"; exit 1; }
	@test -x $(PY) || { echo "==> creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> installing backend[dev] into $(VENV)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e '$(ROOT)/backend[dev]'
	@touch $@

venv: $(VENV_STAMP) ## create .venv with the backend and its dev tools (supervisor, pytest, playwright)

$(NPM_STAMP): $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	@echo "==> npm ci"
	@cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error

frontend-deps: $(if $(HAVE_FRONTEND),$(NPM_STAMP)) ## install the frontend's node_modules
	@$(if $(HAVE_FRONTEND),true,echo "(no frontend/package.json yet: skipped)")

$(DIST): $(NPM_STAMP) $(FRONTEND_SOURCES)
	@echo "==> building the frontend"
	@cd $(FRONTEND) && npm run build --silent
	@touch $@

frontend-build: $(if $(HAVE_FRONTEND),$(DIST)) ## build frontend/dist when its sources changed
	@$(if $(HAVE_FRONTEND),true,echo "(no frontend/package.json yet: skipped)")

system-nginx:
	@$(ROOT)/scripts/install-system-deps.sh nginx

# One apt-get run for everything the browser tests need (two at once would fight over dpkg's lock).
system-e2e:
	@$(ROOT)/scripts/install-system-deps.sh nginx chromium fonts postgresql caddy

# --- running ---------------------------------------------------------------------------------------

# The Python and the frontend installs are independent: on a fresh machine they run side by side.
# A stack that already runs from RUN_DIR is refused before anything is installed or built.
run: ## start nginx + uvicorn under supervisord, return when healthy (refused while it runs)
	@RUN_DIR=$(RUN_DIR) $(ROOT)/scripts/run-local.sh --check
	@$(MAKE) -j3 --output-sync=line venv frontend-build system-nginx
	@RUN_DIR=$(RUN_DIR) $(ROOT)/scripts/run-local.sh

stop: ## stop what `make run` started
	@RUN_DIR=$(RUN_DIR) $(ROOT)/scripts/stop-local.sh

restart: ## stop and run again, with the PORT, BIND and DATA_DIR it had unless given
	@$(MAKE) -j3 --output-sync=line venv frontend-build system-nginx
	@RUN_DIR=$(RUN_DIR) $(ROOT)/scripts/run-local.sh --restart

status: ## where it runs, its programs, /health through nginx and of each replica
	@RUN_DIR=$(RUN_DIR) $(ROOT)/scripts/status-local.sh

logs: ## the last lines of every log (followed when run in a terminal)
	@ls $(RUN_DIR)/logs/*.log >/dev/null 2>&1 || { echo "no logs in $(RUN_DIR)/logs"; exit 0; }; \
	if [ -t 1 ]; then exec tail -n 50 -F $(RUN_DIR)/logs/*.log; else tail -n 100 $(RUN_DIR)/logs/*.log; fi

# --- testing ---------------------------------------------------------------------------------------

test: ## everything: lint; backend on SQLite and on PostgreSQL side by side; frontend, config checks and the storage tests on S3 side by side; end-to-end (a summary at the end)
	@$(MAKE) --no-print-directory venv frontend-deps frontend-build system-nginx
	@MAKE="$(MAKE)" $(ROOT)/scripts/test-suites "lint" "backend pg" "frontend config s3" "e2e"

test-lint: lint

test-backend: venv ## backend pytest (unit, API, jobs, providers against fakes, migrations)
	@echo "==> backend tests"
	@cd $(ROOT)/backend && $(call pytest,$(PY) -m pytest,backend/tests)

test-pg: venv ## the backend suite again, every app on a fresh database of a throw-away PostgreSQL
	@$(ROOT)/scripts/install-system-deps.sh postgresql
	@echo "==> backend tests on PostgreSQL"
	@cd $(ROOT)/backend && export STUDIO_TEST_DB=postgresql && $(call pytest,$(PY) -m pytest,backend/tests on PostgreSQL)

# The tests of what touches stored images (storage, the image/history/upload/OpenAI routes), again with
# every app's images in a bucket of an S3-compatible test server (moto), and the 3-replica failover on
# PostgreSQL with STORAGE_BACKEND=s3. Not the whole suite: the rest never reads an image.
S3_TESTS = tests/storage tests/api/test_images.py tests/api/test_tasks_history.py tests/api/test_uploads.py \
           tests/api/test_health.py tests/api/test_openai.py tests/api/test_object_storage.py tests/services/test_history_recovery.py tests/services/test_health.py

test-s3: venv ## the storage, image and archive tests with STORAGE_BACKEND=s3, and the replica failover on it
	@echo "==> storage tests on S3 (moto)"
	@cd $(ROOT)/backend && export STUDIO_TEST_STORAGE=s3 && $(call pytest,$(PY) -m pytest $(S3_TESTS),storage tests on S3)
	@$(ROOT)/scripts/install-system-deps.sh postgresql
	@cd $(ROOT) && export STUDIO_TEST_STORAGE=s3 && $(call pytest,$(PY) -m pytest e2e/test_replicas.py,replicas on S3)

test-frontend: frontend-deps ## vue-tsc and vitest
	@if [ -z "$(HAVE_FRONTEND)" ]; then echo "(no frontend yet: skipped)"; exit 0; fi; \
	echo "==> frontend typecheck and unit tests"; \
	cd $(FRONTEND) && npm run typecheck --silent && npm test --silent

test-config: venv system-nginx frontend-build ## nginx -t on the rendered configs, supervisor, compose, Dockerfiles, .env.example
	@echo "==> config checks"
	@cd $(ROOT) && $(call pytest,$(PY) -m pytest tests/deploy,tests/deploy)

test-e2e: ## the real stack in headless Debian chromium
	@$(MAKE) -j3 --output-sync=line venv frontend-build system-e2e
	@echo "==> end-to-end tests"
	@cd $(ROOT) && $(call pytest,$(PY) -m pytest e2e,e2e)

# --- the image -------------------------------------------------------------------------------------

# Docker when an engine answers; else podman (installed by apt when missing) with local stand-ins of
# the base images, made once and reused (scripts/image.py). EXTRA_CA_FILE=ca.pem: a proxy's CA.
image: ## build volcengine-fullstack:latest (docker, else podman with local base stand-ins)
	@cd $(ROOT) && if [ "$$($(PYTHON) scripts/image.py engine 2>/dev/null)" != docker ]; then scripts/install-system-deps.sh podman; fi
	@cd $(ROOT) && $(PYTHON) scripts/image.py build

# The separated layout's images (docker-compose.yml), built the same way; with podman also the
# PostgreSQL stand-in. The podman test gives its containers DNS with netavark and aardvark-dns.
image-separated: ## build volcengine-backend and volcengine-nginx (docker-compose.yml)
	@cd $(ROOT) && if [ "$$($(PYTHON) scripts/image.py engine 2>/dev/null)" != docker ]; then scripts/install-system-deps.sh podman; fi
	@cd $(ROOT) && $(PYTHON) scripts/image.py separated

image-test: venv image image-separated ## build the images, run them with podman: the one image, then docker-compose.yml's stack
	@echo "==> image tests"
	@cd $(ROOT) && $(call pytest,$(PY) -m pytest tests/image,tests/image)

# Every script's output is kept; the table at the end collects the BENCH|... lines they print
# (format: bench/README.md). A script that fails is named there and the others still run.
bench: venv ## print performance figures (never asserts), then one table of every figure with its target
	@if ! ls $(ROOT)/bench/*.py >/dev/null 2>&1; then echo "(no bench/ scripts yet)"; exit 0; fi; \
	out=$$(mktemp -d); failed=""; \
	for script in $(ROOT)/bench/[!_]*.py; do \
	  name=$${script#$(ROOT)/}; echo "==> $$name"; \
	  (cd $(ROOT)/backend && PYTHONPATH=$(ROOT)/backend $(PY) $$script) | tee "$$out/$$(basename $$script).txt" \
	    || failed="$$failed $$name"; \
	done; \
	echo; echo "==> summary (every BENCH line above)"; \
	$(PY) $(ROOT)/bench/_summary.py "$$out"/*.txt; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; fi; \
	rm -rf "$$out"

client: venv frontend-deps ## regenerate the TypeScript API client from the backend's OpenAPI
	@cd $(ROOT) && bash scripts/generate-client.sh

# The gate: any finding fails `make lint`, `make test` and CI.
PY_LINT_PATHS := backend scripts tests e2e supervisor bench soak
lint: venv ## ruff (isort, bugbear), mypy --strict (backend/app, scripts/stackctl), ESLint + vue-tsc, shellcheck
	@echo "==> lint"
	@$(ROOT)/scripts/install-system-deps.sh shellcheck
	@cd $(ROOT) && for f in scripts/*.sh .ci/run; do bash -n "$$f"; done
	@cd $(ROOT) && shellcheck -x scripts/*.sh scripts/podman/*.sh .ci/run
	@cd $(ROOT) && $(VENV)/bin/ruff check --config backend/pyproject.toml $(PY_LINT_PATHS)
	@cd $(ROOT)/backend && $(VENV)/bin/mypy
	@cd $(ROOT)/scripts && $(VENV)/bin/mypy --strict stackctl
	@if [ -n "$(HAVE_FRONTEND)" ]; then $(MAKE) frontend-deps && cd $(FRONTEND) && npm run typecheck --silent && npm run lint --silent; fi

clean: ## remove build output, rendered configs and test artifacts (never data/ or .env)
	@if [ -f $(RUN_DIR)/supervisord.pid ]; then $(MAKE) stop; fi
	rm -rf $(RUN_DIR) $(FRONTEND)/dist $(ROOT)/e2e/artifacts $(ROOT)/.pytest_cache $(ROOT)/backend/.pytest_cache
	find $(ROOT)/backend $(ROOT)/tests $(ROOT)/e2e $(ROOT)/scripts $(ROOT)/supervisor -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv and node_modules too
	rm -rf $(VENV) $(FRONTEND)/node_modules
soak: venv ## soak: 100 clients through nginx against the fakes for SOAK_SECONDS (600); not in CI
	@cd $(ROOT)/backend && $(PY) $(ROOT)/soak/run.py
