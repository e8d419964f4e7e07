# The README's contract: `make run` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup run test bench lint chaos clean

# The built-in reference boundaries are compiled here, once, so `ioc up` starts without it.
setup: $(STAMP)
	@$(PY) -m routers.boundaries.prebuild
	@$(PY) -m dashboards.prewarm

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(VENV)/bin/ioc up $(ARGS)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m benchmarks $(ARGS)

lint: setup
	$(VENV)/bin/ruff check routers streams dashboards tests benchmarks
	$(VENV)/bin/mypy

chaos: setup
	$(PY) -m benchmarks.chaos $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
