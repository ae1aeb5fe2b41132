# townsquare: `make run` serves the demo community, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run serve test lint format migrate demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --silent
	touch $(NODE_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/townsquare migrate
	$(BIN)/townsquare demo --if-empty
	$(BIN)/townsquare serve

serve: $(STAMP)
	$(BIN)/townsquare serve

migrate: $(STAMP)
	$(BIN)/townsquare migrate

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

test: $(STAMP) $(NODE_STAMP) lint
	$(BIN)/pytest -n auto --dist loadgroup -q

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
