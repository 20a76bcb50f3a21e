# lvyue — make demo: build the demo ledger and serve it; make test: lint, type-check and test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench bench-quick clean serve

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lvyue demo --fresh
	$(BIN)/lvyue rebuild
	$(BIN)/lvyue serve --host 127.0.0.1 --port 8000

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check ledger api verifier tests bench
	$(BIN)/ruff format --check ledger api verifier tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run_all --quick

clean:
	rm -rf $(VENV) lvyue-data
