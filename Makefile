# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.9
UV := .venv-tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy

.PHONY: bootstrap browser run stop status lint lint-fix test test-unit bench docs clean-state

bootstrap: .venv/.synced .venv-superset/.synced ## install both virtualenvs from the lock files

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	touch $@

# Superset pins many libraries the pipeline also uses, so it gets a virtualenv of its own; --no-config:
# the [tool.uv] settings of pyproject.toml (the pipeline's pandas override) are not Superset's.
.venv-superset/.synced: superset/requirements.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python "$(PYTHON)" .venv-superset
	$(UV) pip install --no-config --quiet --python .venv-superset/bin/python --require-hashes -r superset/requirements.lock
	touch $@

run: bootstrap ## set up, run the whole pipeline once on demo data, leave the UIs serving
	.venv/bin/ecom run

stop: ## stop every process of the local stack
	@if [ -x .venv/bin/ecom ]; then .venv/bin/ecom down; else echo "nothing to stop"; fi

status:
	.venv/bin/ecom status

# The browser test drives Debian's chromium (Playwright must not download its own browser).
browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }

lint: bootstrap ## ruff (check, format) over the Python, sqlfluff with the dbt templater over the dbt SQL
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/python tests/lint_sql.py lint

# Fixes what the linters can fix safely; review the diff, then `make lint` lists what is left to do by hand.
lint-fix: bootstrap
	.venv/bin/ruff check --fix --exit-zero .
	.venv/bin/ruff format .
	.venv/bin/python tests/lint_sql.py fix

test: bootstrap browser lint ## lint, then the whole test suite against a throw-away stack of real components
	.venv/bin/python -m pytest

test-unit: bootstrap
	.venv/bin/python -m pytest tests/unit

bench: bootstrap ## speed and memory benchmarks, each against a baseline measured in the same run
	.venv/bin/python tests/benchmarks/bench_ingestion.py
	.venv/bin/python tests/benchmarks/bench_mappings.py
	.venv/bin/python tests/benchmarks/bench_dbt.py
	.venv/bin/python tests/benchmarks/bench_superset.py
	.venv/bin/python tests/benchmarks/bench_forecast.py

docs: bootstrap ## build the dbt docs and serve them on http://127.0.0.1:8580
	.venv/bin/ecom docs

clean-state: stop ## forget all local data (warehouse, Dagster history, Superset metadata)
	rm -rf .local
