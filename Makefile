# Two commands do all the set-up: `make run` (install, run the baseline) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SCENARIO ?= scenarios/baseline_2021.toml

.PHONY: run test app bench baseline clean

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

test: $(VENV)/.test
	$(PY) -m pytest

app: $(VENV)/.app
	$(PY) run.py app

bench: $(VENV)/.base
	$(PY) benchmarks/throughput.py

baseline: $(VENV)/.base
	$(PY) scripts/baseline.py

clean:
	rm -rf $(VENV)
