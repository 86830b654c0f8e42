# Cost & Metrics API. `make help` lists the targets.
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.DEFAULT_GOAL := help

# Python 3.13 (the Lambda runtime): on PATH, or the newest 3.13 that pyenv has.
# (pyenv's shim on PATH fails when 3.13 is not the selected version, so each candidate is run once.)
PYTHON313 ?= $(shell for p in $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | sort -V -r) $$(command -v python3.13); do $$p -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STAGE ?= dev
FUNCTION ?= RollupFunction
EVENT ?= events/rollup-stream-batch.json
PYTEST_ARGS ?=
# The test order is shuffled (pytest-randomly) with this seed; `make test SEED=7` tries another order,
# `make test SEED=random` a new one each run (pytest prints the seed it used).
SEED ?= 12
RANDOM_ORDER := $(if $(filter random,$(SEED)),,--randomly-seed=$(SEED))
# The web console's browser tests and `make screenshots` drive Debian's chromium (never a browser Playwright
# downloads): `make browser` installs it with apt-get when it is missing and make runs as root.
CHROMIUM ?= /usr/bin/chromium
# checkov pins an older boto3 than the dev tools, so it lives in its own venv (pin: pyproject's `checkov`).
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help venv local local-reset sam-build sam-image sam-invoke sam-api sam-local sam-local-test test unit lint format build bytecode validate checkov openapi invoke bench soak deploy clean browser screenshots

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is needed: install it (pyenv install 3.13) or set PYTHON313" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create .venv with Python 3.13 and the pinned dependencies

local: $(STAMP) ## Run the whole service locally (moto + API + stream poller + schedule + demo data)
	$(PY) -m local_stack

local-reset: $(STAMP) ## Like `make local`, but wipe the stack's data first (a new, empty stack with fresh demo data)
	COSTMETRICS_RESET=1 $(PY) -m local_stack

test: $(STAMP) lint browser ## Install what is needed, lint, and run the whole test suite (shuffled, SEED=12)
	COSTMETRICS_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -n 2 --dist loadfile --durations=15 -m "not sam" $(RANDOM_ORDER) $(PYTEST_ARGS)

browser: ## Debian's chromium for the console's browser tests (apt-get install, as root, when missing)
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the console's browser tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "apt-get could not install chromium: the browser tests will be skipped" >&2; \
	else \
		echo "$(CHROMIUM) is missing and only root can install it (apt-get install chromium): the browser tests will be skipped" >&2; \
	fi

screenshots: $(STAMP) browser ## Screenshots of the console's views (laptop and phone) into the state dir's screenshots/
	COSTMETRICS_CHROMIUM=$(CHROMIUM) $(PY) -m tools.screenshots

unit: $(STAMP) ## Unit tests only (no AWS emulation)
	$(PY) -m pytest tests/unit $(RANDOM_ORDER) $(PYTEST_ARGS)

lint: $(STAMP) $(CHECKOV_STAMP) ## ruff, ruff format --check, mypy, sam validate --lint, and checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1
	$(MAKE) --no-print-directory checkov

format: $(STAMP) ## Format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

validate: $(STAMP) ## sam validate --lint (cfn-lint) on template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

$(CHECKOV_STAMP): pyproject.toml | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet $$($(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["checkov"])')
	@touch $(CHECKOV_STAMP)

# Offline: no Prisma Cloud download, no update check. The skipped checks, with their reasons: .checkov.yaml.
checkov: $(CHECKOV_STAMP) ## checkov on template.yaml (SAM resources included): fails on any failed check
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f template.yaml \
		--config-file .checkov.yaml

# Lambda's file system is read-only: without bytecode in the package, every cold start compiles each module
# it imports (botocore, pydantic, Powertools, ours) and throws the result away. sam build ships sources only,
# so the build compiles them for the runtime's Python, as hashes that never check the source's mtime.
BUILD_DIR ?= .aws-sam/build

build: $(STAMP) ## sam build (functions and the arm64 layer), compiled to bytecode
	PATH="$(dir $(PYTHON313)):$$PATH" $(VENV)/bin/sam build
	$(MAKE) --no-print-directory bytecode

bytecode: ## Compile a sam build's output (BUILD_DIR, .aws-sam/build) for the runtime's Python 3.13
	$(PYTHON313) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(BUILD_DIR)

# sam local runs the functions in containers of this machine's architecture (x86_64 here; arm64 deployed).
ARCH ?= $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/^arm64$$/arm64/')

sam-build: $(STAMP) ## sam build for this machine (ARCH=x86_64|arm64), to run with sam local
	PATH="$(dir $(PYTHON313)):$$PATH" $(VENV)/bin/sam build --parameter-overrides Architecture=$(ARCH)
	$(MAKE) --no-print-directory bytecode

# What SAM needs to call the running `make local` (started with COSTMETRICS_LISTEN=all) from its containers.
SAM_STATE := $(or $(COSTMETRICS_STATE_DIR),.local)
SAM_LOCAL_ARGS = -n $(SAM_STATE)/sam-env.json --parameter-overrides Architecture=$(ARCH) --skip-pull-image \
	--add-host host.docker.internal:host-gateway
SAM_CREDENTIALS := AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0

sam-invoke: ## sam local invoke against `make local`: make sam-invoke FUNCTION=.. EVENT=events/..
	@test -f $(SAM_STATE)/sam-env.json || { echo "start the stack first: COSTMETRICS_LISTEN=all make local" >&2; exit 1; }
	$(SAM_CREDENTIALS) $(VENV)/bin/sam local invoke $(FUNCTION) -e $(EVENT) $(SAM_LOCAL_ARGS)

SAM_API_PORT ?= 3001
sam-api: ## sam local start-api against `make local`, on port SAM_API_PORT (3001), with real token checks
	@test -f $(SAM_STATE)/sam-env.json || { echo "start the stack first: COSTMETRICS_LISTEN=all make local" >&2; exit 1; }
	$(SAM_CREDENTIALS) $(VENV)/bin/sam local start-api -p $(SAM_API_PORT) --warm-containers LAZY $(SAM_LOCAL_ARGS)

# A script that builds a stand-in of public.ecr.aws/lambda/python:3.13 where that image cannot be pulled
# (an offline machine); anywhere else `sam local` pulls the public image and this target is not needed.
BASE_IMAGE_SCRIPT ?= ../shared/tools/lambda-base-image
sam-image: ## Build an offline stand-in of the python3.13 Lambda base image (BASE_IMAGE_SCRIPT=<its builder>)
	@test -f "$(BASE_IMAGE_SCRIPT)" || { echo "no base-image builder at $(BASE_IMAGE_SCRIPT): set BASE_IMAGE_SCRIPT, or let sam local pull public.ecr.aws/lambda/python:3.13" >&2; exit 2; }
	bash "$(BASE_IMAGE_SCRIPT)"

sam-local: $(STAMP) ## Every function through sam local invoke and start-api, against a local stack of its own
	BASE_IMAGE_SCRIPT=$(BASE_IMAGE_SCRIPT) $(PY) -m tools.sam_check --build-image

sam-local-test: $(STAMP) ## The sam local check as a test: runs with Docker, skips (saying why) without
	$(PY) -m pytest -m sam tests/e2e/test_sam_local.py -rs $(PYTEST_ARGS)

openapi: $(STAMP) ## Regenerate docs/openapi.json (and DocsFunction's copy) from the routes
	$(PY) -m tools.openapi

invoke: $(STAMP) ## Run one function with an event file against `make local`: make invoke FUNCTION=.. EVENT=..
	$(PY) -m local_stack.invoke $(FUNCTION) $(EVENT)

bench: $(STAMP) ## Measure DynamoDB requests/items per call, writes per stream batch, cold-start imports
	$(PY) -m tests.bench

soak: $(STAMP) ## 20 clients x 1,000 events (10% re-sent) on the local stack, 200 fault-injection examples
	$(PY) -m tests.soak $(PYTEST_ARGS)

deploy: build ## Deploy to AWS with samconfig.toml's environment: make deploy STAGE=dev|prod
	$(VENV)/bin/sam deploy --config-env $(STAGE)

clean: ## Remove the venv, build output and local state
	rm -rf $(VENV) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
