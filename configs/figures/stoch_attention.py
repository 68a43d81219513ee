"""Stochastic (logistic-normal) vs deterministic attention over MNIST rows.

    python -m experiments.main --config=configs/stoch_attention.py \
        --config.attention=deterministic --workdir=runs/satt_det
    python -m experiments.main --config=configs/stoch_attention.py --workdir=runs/satt_stoch
    python -m experiments.main --config=configs/stoch_attention.py --config.kl_weight=0.01 \
        --workdir=runs/satt_stoch_kl001
    python -m experiments.figures --only=stoch_attention --variant=full
The ``full`` variant plots those three runs (3 epochs each, 2-3 minutes each on 2 cores; it
trains them first if they are missing). Expected: the full ELBO's attention has a higher
entropy than deterministic attention (3.31 vs 2.11 after 3 epochs) and lower accuracy;
kl_weight 0.01 keeps a focused attention.
Default (``python -m experiments.figures --only=stoch_attention``, for `make figures`): the
same three runs with the ``quick`` experiment variant (300 steps on 5000 digits), trained in
the figure's folder. Quick: two of them, fewer digits and draws.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "full", "quick")


def attention_run(attention: str, kl_weight: float, variant: str, run_dir: str = ""):
    """(name, experiment config, overrides, run dir under the repo; "" = the figure's folder)."""
    name = f"{attention}_kl{kl_weight:g}" if attention == "stochastic" else attention
    return (name, f"configs/stoch_attention.py:{variant}",
            {"attention": attention, "kl_weight": kl_weight, "artifacts": False}, run_dir)


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, exclusive={"runs": ("full", "quick")})
    c = ml_collections.ConfigDict()
    c.module = "stoch_attention"
    c.seed = 0
    c.runs = (attention_run("deterministic", 1.0, "quick"),
              attention_run("stochastic", 1.0, "quick"),
              attention_run("stochastic", 0.01, "quick"))
    c.labels = ("deterministic", "stochastic, ELBO", "stochastic, kl_weight 0.01")
    c.num_digits = 500  # test digits for the averages and draws
    c.num_samples = 64  # draws of w per digit
    c.num_shown = 20
    c.digit = 0  # index of the displayed test digit
    if "full" in variant:
        c.runs = (attention_run("deterministic", 1.0, "default", "runs/satt_det"),
                  attention_run("stochastic", 1.0, "default", "runs/satt_stoch"),
                  attention_run("stochastic", 0.01, "default", "runs/satt_stoch_kl001"))
    if "quick" in variant:
        c.runs = c.runs[:2]
        c.labels = c.labels[:2]
        c.num_digits = 200
        c.num_samples = 32
    return c
