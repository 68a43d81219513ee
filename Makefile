# rgrad developer entry points. `make run` and `make test` install first when needed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install run test test-slow lint bench bench-quick bench-env figures clean snapshot resume tensorboard

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

# Peer libraries of the benchmarks (PyTorch CPU, optax 0.2.6 with its jax, Stable-Baselines3,
# NumPyro) in their own virtualenv, never in the project's.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): experiments/bench/requirements.txt
	test -d $(BENCH_VENV) || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q -r experiments/bench/requirements.txt
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

# The six peer comparisons, each side in its own process (about 30 minutes on 2 cores).
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m experiments.bench --out=BENCHMARKS.md

# The same at small sizes (a few minutes), written apart from BENCHMARKS.md.
bench-quick: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m experiments.bench --quick --out=runs/bench-quick.md

figures: $(STAMP)
	$(BIN)/python -m experiments.figures --outdir=figures --jobs=2

# The documentation site (mkdocs + mkdocstrings, from the docstrings and docs/) into site/.
.PHONY: docs
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir site

# TensorBoard on a run or a folder of runs: one run per member (tb/seed0, tb/seed1_lr=0.001),
# so seeds overlay; config text, hparams table and image grids at every evaluation.
LOGDIR ?= runs
PORT   ?= 6006
tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir=$(LOGDIR) --port=$(PORT)

clean:
	rm -rf runs figures_out .pytest_cache

# Paper runs longer than one machine's life (the IWAE reproduction: ~4 h on 2 CPU cores).
# `make snapshot` copies the latest intact checkpoint of runs/$(RUN) (finished, its digest
# checked; damaged newer ones are named and skipped), with the run's config, data digest and
# metrics, to snapshots/$(RUN) (committed, ~5 MB); on a new checkout
# `make resume` restores it into runs/$(RUN) and continues the run with $(CONFIG). The data
# dir must hold the data the run started with (RGRAD_DATA_DIR), or the loop refuses to resume.
RUN       ?= vae_iwae
CONFIG    ?= configs/vae.py:iwae
RUNS      ?= runs
SNAPSHOTS ?= snapshots

snapshot: $(STAMP)
	@last=$$($(BIN)/python -m rgrad.checkpoint_digest $(RUNS)/$(RUN)/checkpoints); \
	if [ -z "$$last" ]; then \
	  echo "$(RUNS)/$(RUN) has no finished checkpoint to snapshot (set RUN=<run name>)"; exit 1; fi; \
	tmp=$(SNAPSHOTS)/.$(RUN).tmp; rm -rf $$tmp && mkdir -p $$tmp/checkpoints && \
	cp -r $(RUNS)/$(RUN)/checkpoints/$$last $$tmp/checkpoints/ && \
	cp $(RUNS)/$(RUN)/config.json $(RUNS)/$(RUN)/data.json $(RUNS)/$(RUN)/metrics.jsonl $$tmp/ && \
	{ [ ! -e $(RUNS)/$(RUN)/identity.json ] || cp $(RUNS)/$(RUN)/identity.json $$tmp/; } && \
	rm -rf $(SNAPSHOTS)/$(RUN) && mv $$tmp $(SNAPSHOTS)/$(RUN) && \
	echo "$(SNAPSHOTS)/$(RUN): step $$last of $(RUNS)/$(RUN); commit it to carry the run on"

resume: $(STAMP)
	@if [ ! -d $(RUNS)/$(RUN)/checkpoints ]; then \
	  if [ ! -d $(SNAPSHOTS)/$(RUN) ]; then \
	    echo "neither $(RUNS)/$(RUN)/checkpoints nor $(SNAPSHOTS)/$(RUN) exists (set RUN=<run name>)"; exit 1; fi; \
	  mkdir -p $(RUNS)/$(RUN) && cp -r $(SNAPSHOTS)/$(RUN)/. $(RUNS)/$(RUN)/ && echo "$(RUNS)/$(RUN) restored from $(SNAPSHOTS)/$(RUN)"; fi
	$(BIN)/python -m experiments.main --config=$(CONFIG) --workdir=$(RUNS)/$(RUN)
