# townsquare: `make run` serves the demo community, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# the browser client, built into the package (rebuilt when web/ or the lockfile changes)
WEB_BUILD := src/townsquare/web/index.html
WEB_SOURCES := $(shell find web -type f 2>/dev/null) package-lock.json

.PHONY: run serve test lint format migrate demo bench clean web web-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --silent
	touch $(NODE_STAMP)

$(WEB_BUILD): $(NODE_STAMP) $(WEB_SOURCES)
	npx vite build --config web/vite.config.mts --logLevel warn
	node web/scripts/compress.mjs

web: $(WEB_BUILD)

web-test: $(NODE_STAMP)
	npx tsc -p web
	npx vitest run --config web/vite.config.mts

install: $(STAMP)

run: $(STAMP) $(WEB_BUILD)
	$(BIN)/townsquare migrate
	$(BIN)/townsquare demo --if-empty
	$(BIN)/townsquare serve

serve: $(STAMP) $(WEB_BUILD)
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

test: $(STAMP) $(NODE_STAMP) $(WEB_BUILD) lint web-test
	$(BIN)/pytest -n auto --dist loadgroup -q

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache src/townsquare/web
