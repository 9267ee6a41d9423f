# Two commands do all set-up on a fresh machine with Python 3.11+, Node/npm and make:
#   make demo   creates .venv, installs copilot-batch and the Copilot CLI, runs the example jobs offline
#   make test   the same set-up, then lint, types and the whole test suite
#   make test-fast   the tests that start no Copilot CLI (no npm needed, no lint)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNS ?= runs

.PHONY: setup demo test test-fast lint bench clean

$(BIN)/copilot-batch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# npm ci installs exactly the pinned @github/copilot from package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup: $(BIN)/copilot-batch node_modules/.package-lock.json

# review-repos.yaml reviews three small git repositories that the script makes first.
# local-model.yaml is for a model server on this machine (docs/providers.md): not replayed.
DEMO_JOBS := $(filter-out jobs/local-model.yaml,$(sort $(wildcard jobs/*.yaml)))

demo: setup
	$(BIN)/python jobs/review/make_sample_repos.py
	$(BIN)/copilot-batch run $(DEMO_JOBS) --replay jobs/scripts --out $(RUNS)

test: lint
	$(BIN)/pytest

# Tests that start the CLI are marked cli; the rest need only the Python package.
test-fast: $(BIN)/copilot-batch
	$(BIN)/pytest -m 'not cli'

# Not part of test: it takes minutes (scale: about ten) and its figures depend on the machine.
bench: setup
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.compare
	$(BIN)/python -m bench.ratelimit
	$(BIN)/python -m bench.session_cpu
	$(BIN)/python -m bench.cli_aging
	$(BIN)/python -m bench.scale

lint: setup
	$(BIN)/ruff check copilot_batch tests bench
	$(BIN)/ruff format --check copilot_batch tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules $(RUNS) .pytest_cache .mypy_cache .ruff_cache
