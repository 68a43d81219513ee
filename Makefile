# rgrad developer entry points. `make run` and `make test` install first when needed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install run test test-slow lint bench figures clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m experiments.main --config=configs/vae.py --workdir=runs/vae

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check rgrad experiments configs tests

bench: $(STAMP)
	$(BIN)/python -m experiments.bench --out=BENCHMARKS.md

figures: $(STAMP)
	$(BIN)/python -m experiments.figures --outdir=figures --jobs=2

clean:
	rm -rf runs figures_out .pytest_cache
