# Two commands do all the set-up: `make run` (install, run the baseline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SCENARIO ?= scenarios/baseline_2021.toml

.PHONY: run test lint app bench baseline clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || "$$(scripts/find-python.sh)" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.app: $(VENV)/.base
	$(PY) -m pip install -q -e '.[app]'
	touch $@

run: $(VENV)/.base
	$(PY) run.py run $(SCENARIO)

test: lint
	$(PY) -m pytest

# The style contract (ruff) and the layer contract (import-linter); `make test` runs both first.
lint: $(VENV)/.test
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports

app: $(VENV)/.app
	$(PY) run.py app

bench: $(VENV)/.base
	$(PY) benchmarks/throughput.py

baseline: $(VENV)/.base
	$(PY) scripts/baseline.py

clean:
	rm -rf $(VENV)
