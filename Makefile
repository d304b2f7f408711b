# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .venv-tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: bootstrap run stop status test test-unit bench docs clean-state

bootstrap: .venv/.synced .venv-superset/.synced ## install both virtualenvs from the lock files

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	touch $@

# Superset pins many libraries the pipeline also uses, so it gets a virtualenv of its own.
.venv-superset/.synced: superset/requirements.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python "$(PYTHON)" .venv-superset
	$(UV) pip install --quiet --python .venv-superset/bin/python --require-hashes -r superset/requirements.lock
	touch $@

run: bootstrap ## set up, run the whole pipeline once on demo data, leave the UIs serving
	.venv/bin/ecom run

stop: ## stop every process of the local stack
	@if [ -x .venv/bin/ecom ]; then .venv/bin/ecom down; else echo "nothing to stop"; fi

status:
	.venv/bin/ecom status

test: bootstrap ## the whole test suite against a throw-away stack of real components
	.venv/bin/python -m pytest

test-unit: bootstrap
	.venv/bin/python -m pytest tests/unit

clean-state: stop ## forget all local data (warehouse, Dagster history, Superset metadata)
	rm -rf .local
