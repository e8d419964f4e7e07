# The README's contract: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# the dashboard's front-end libraries (Leaflet; playwright-core for the browser tests), from npm
NODE_STAMP := node_modules/.installed-stamp

.PHONY: setup run test bench lint chaos clean

# The built-in reference boundaries are compiled here, once, so `ioc up` starts without it.
setup: $(STAMP) $(NODE_STAMP)
	@$(PY) -m routers.boundaries.prebuild
	@$(PY) -m dashboards.prewarm

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || $(PY) -m pip install --quiet -e '.[dev,mqtt-broker]'
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js >= 18) is required: the dashboard serves its map library from node_modules"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

run: setup
	$(VENV)/bin/ioc up $(ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m benchmarks $(ARGS)

lint: setup
	$(VENV)/bin/ruff check routers streams dashboards cli tests benchmarks
	$(VENV)/bin/mypy

chaos: setup
	$(PY) -m benchmarks.chaos $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache node_modules
