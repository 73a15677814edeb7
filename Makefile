# mlcycle's front door. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := api,ui,cloud,export,dev
PYTEST_ARGS ?=
# make test runs on this many pytest-xdist workers: most of the suite waits on subprocesses
# (pipeline steps, servers, Chromium), so two workers keep both cores busy. WORKERS=0: serial.
WORKERS ?= 2
# Only the folders that exist (bench/ may not, on a fresh branch): ruff fails on a missing path.
LINT_PATHS := $(wildcard src tests bench scripts)

.PHONY: help install run serve ui check test test-containers lint format bench compile report docker-lint images lock clean screenshot

help: ## List every target with its purpose
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# uv (pinned in constraints.txt like everything else) installs the lock in seconds where pip
# takes minutes; it prints what it installs. --compile-bytecode writes every package's .pyc
# now: where PYTHONDONTWRITEBYTECODE is set (as on this machine) Python never caches them,
# and every pipeline step, server and test subprocess compiled scikit-learn, pandas and kfp
# from source again (3-5x the CPU of each import).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --constraint constraints.txt uv
	$(BIN)/uv pip install --python $(BIN)/python --constraint constraints.txt --compile-bytecode \
	  --editable '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv/ and install mlcycle with its dev tools (pinned by constraints.txt)

run: install ## Install if needed, train a champion if there is none, then start the API and the UI
	$(BIN)/mlcycle up

serve: install ## Serve the champion over REST on http://127.0.0.1:8080 (docs at /docs)
	$(BIN)/mlcycle serve

ui: install ## Serve the web UI on http://127.0.0.1:8081 (calls the API at MLCYCLE_API_URL)
	$(BIN)/mlcycle ui

test: install lint ## Install if needed, then run the whole test suite (lint included)
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-inso.sh
	$(BIN)/pytest -m "not containers" -n $(WORKERS) --dist worksteal $(PYTEST_ARGS)

check: lint ## The edit-test loop: lint and the unit tests (no browser, servers or emulators; ~12 s)
	$(BIN)/pytest tests/unit -n $(WORKERS) $(PYTEST_ARGS)

test-containers: install ## Build the three images (podman, no Docker engine) and start each as its cloud would
	bash scripts/containers/ensure-podman.sh
	bash scripts/containers/base-image.sh
	bash scripts/containers/build-images.sh
	source scripts/containers/env.sh && $(BIN)/pytest tests/containers $(PYTEST_ARGS)

lint: install ## ruff lint and format check
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(LINT_PATHS)
	$(BIN)/ruff format $(LINT_PATHS)

bench: install ## Run every benchmark under bench/ (figures in bench/results/*.json)
	@set -e; for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script; done

screenshot: install ## Refresh docs/images/predict.png (the README's) from the browser test
	bash scripts/ensure-chromium.sh
	MLCYCLE_UI_SCREENSHOTS=docs/images $(BIN)/pytest tests/ui/test_browser.py -q -k predicts_what_the_api

report: install ## Train afresh and rebuild the project report (docs/report.pdf) from that run
	bash scripts/ensure-chromium.sh
	$(BIN)/python scripts/build_report.py

compile: install ## Compile the pipeline spec for Vertex AI (mlcycle-pipeline.yaml)
	$(BIN)/mlcycle compile --output mlcycle-pipeline.yaml

docker-lint: install ## hadolint the Dockerfile at warning level (also part of make test)
	$(BIN)/hadolint --failure-threshold warning Dockerfile

images: ## Build the pipeline, api and ui images as compose names them (needs a Docker engine)
	@set -e; for target in pipeline api ui; do \
	  docker build --target $$target --build-arg GIT_COMMIT=$$(git rev-parse HEAD 2>/dev/null) \
	    --tag mlcycle-$$target:local . ; \
	done

lock: ## Re-resolve every dependency into constraints.txt (fresh venv; needs the registry)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet '.[$(EXTRAS)]'
	{ echo "# One pin for every package in every mlcycle environment (runtime, api, ui, cloud, dev)."; \
	  echo "# Regenerate: make lock  (pip freeze of a fresh install of .[all extras])"; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^mlcycle'; } > constraints.txt
	rm -rf .lock-venv

clean: ## Remove the venv, Insomnia's CLI, local runs and caches (not your data under .mlcycle/data)
	rm -rf $(VENV) insomnia/cli/node_modules .mlcycle/pipeline .mlcycle-pipeline .pytest_cache .ruff_cache
