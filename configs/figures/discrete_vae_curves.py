"""Discrete-latent VAEs, one line per gradient estimator: -ELBO against steps and against
training wall time, encoder-gradient variance against steps.

    python -m experiments.figures --only=discrete_vae_curves                      # binary
    python -m experiments.figures --only=discrete_vae_curves --variant=categorical
    python -m experiments.figures --only=discrete_vae_curves --variant=nonlinear
    python -m experiments.figures --only=discrete_vae_curves --variant=fashion
    python -m experiments.figures --only=discrete_vae_curves --quick              # smoke
The default variant plots the linear Bernoulli VAE on dynamically binarized MNIST
(configs/binary_vae.py:linear, 20000 steps, 1 seed per estimator), ``categorical`` the 20x10
categorical VAE (configs/categorical_vae.py, 5000 steps; BENCHMARKS.md lists the runs continued to
20000 and 50000, drawn as far as they got), ``nonlinear`` and ``fashion`` the
DisARM paper's other settings (configs/binary_vae.py:nonlinear on MNIST, :linear on
Fashion-MNIST; 20000 steps each, every binary estimator but IndeCateR; runs bvae_nl_NAME,
bvae_fm_NAME). Each row of BINARY / CATEGORICAL
below is one run, e.g. the DisARM row and the Gumbel-Softmax row (the others change the
estimator overrides and the run's name, bvae_NAME / cvae_NAME):
    python -m experiments.main --config=configs/binary_vae.py:linear \
        --config.num_steps=20000 --config.log_every=250 --config.eval_every=500 \
        --config.checkpoint_every=500 --config.eval.final_num_examples=2000 \
        --config.estimator=disarm --workdir=runs/discrete/bvae_disarm
    python -m experiments.main --config=configs/categorical_vae.py --config.num_steps=5000 \
        --config.log_every=250 --config.eval_every=250 --config.checkpoint_every=250 \
        --config.estimator=gumbel_softmax --workdir=runs/discrete/cvae_gumbel_softmax
An unfinished run is plotted as far as it got; ``--config.train_missing=True`` trains or
resumes the runs first (minutes each on 2 cores; IndeCateR, 400 decoder passes per example,
about 0.3-1 s/step). Expected: the score function without a baseline has by far the highest
gradient variance; the relaxations the lowest -ELBO early in training. The quick variant
trains two 100-step runs of configs/binary_vae.py:quick in the figure's folder (a minute).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "nonlinear", "fashion", "categorical", "quick")
# The DisARM paper's other two settings: its nonlinear model on MNIST, and the linear model on
# Fashion-MNIST; every binary estimator but IndeCateR (400 decoder passes per example).
OTHER_BINARY = {
    "nonlinear": ("configs/binary_vae.py:nonlinear", {}, "bvae_nl",
                  "Bernoulli VAE (nonlinear, 200 latents), dynamic MNIST"),
    "fashion": ("configs/binary_vae.py:linear", {"data.name": "fashion_mnist"}, "bvae_fm",
                "Bernoulli VAE (linear, 200 latents), dynamic Fashion-MNIST")}

# (run name, estimator overrides, legend label)
BINARY = (("sf_none", {"estimator": "score_function"}, "score function"),
          ("sf_ma", {"estimator": "score_function", "baseline": "moving_average"},
           "score function, moving-average baseline"),
          ("rloo", {"estimator": "rloo", "num_samples": 2}, "RLOO (2 samples)"),
          ("nvil", {"estimator": "nvil"}, "NVIL"),
          ("arm", {"estimator": "arm"}, "ARM (1 pair)"),
          ("disarm", {"estimator": "disarm"}, "DisARM (1 pair)"),
          ("rebar", {"estimator": "rebar"}, "REBAR"),
          ("relax", {"estimator": "relax"}, "RELAX"),
          ("gumbel_softmax", {"estimator": "gumbel_softmax"}, "Gumbel-Softmax (biased)"),
          ("st_gumbel_softmax", {"estimator": "st_gumbel_softmax"}, "ST Gumbel-Softmax"),
          ("gumbel_rao", {"estimator": "gumbel_rao"}, "Gumbel-Rao"),
          ("reinmax", {"estimator": "reinmax"}, "ReinMax"),
          ("indecater", {"estimator": "indecater"}, "IndeCateR"))
CATEGORICAL = tuple(r for r in BINARY if r[0] not in ("arm", "disarm")) + (
    ("sf_rloo", {"estimator": "score_function", "baseline": "rloo", "num_samples": 2},
     "score function, RLOO baseline (2 samples)"),)

BINARY_BUDGET = {"num_steps": 20000, "log_every": 250, "eval_every": 500,
                 "checkpoint_every": 500, "eval.final_num_examples": 2000}
CATEGORICAL_BUDGET = {"num_steps": 5000, "log_every": 250, "eval_every": 250,
                      "checkpoint_every": 250}


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, exclusive={
        "runs": ("nonlinear", "fashion", "categorical", "quick")})
    c = ml_collections.ConfigDict()
    c.module = "discrete_vae_curves"
    c.train_missing = False
    c.elbo_metric = "test_neg_elbo"
    c.elbo_span = 120.0  # nats shown above the lowest -ELBO
    if "default" in variant:
        rows, ref, budget, prefix = BINARY, "configs/binary_vae.py:linear", BINARY_BUDGET, "bvae"
        c.title = "Bernoulli VAE (linear, 200 latents), dynamic MNIST"
    elif "nonlinear" in variant or "fashion" in variant:
        ref, data, prefix, c.title = OTHER_BINARY["nonlinear" if "nonlinear" in variant
                                                  else "fashion"]
        rows = tuple(r for r in BINARY if r[0] != "indecater")
        budget = {**BINARY_BUDGET, **data}
    elif "categorical" in variant:
        rows, ref, budget, prefix = (CATEGORICAL, "configs/categorical_vae.py",
                                     CATEGORICAL_BUDGET, "cvae")
        c.title = "categorical VAE (20 x 10), static MNIST"
    else:  # trained in the figure's folder
        rows = tuple(r for r in BINARY if r[0] in ("sf_none", "disarm"))
        ref, budget, prefix = "configs/binary_vae.py:quick", {"num_steps": 100,
                                                             "eval_every": 50}, ""
        c.train_missing = True
        c.title = "Bernoulli VAE, quick"
    c.runs = tuple((name, ref, {**budget, **over}, f"runs/discrete/{prefix}_{name}"
                    if prefix else "") for name, over, _ in rows)
    c.labels = tuple(label for *_, label in rows)
    return c
