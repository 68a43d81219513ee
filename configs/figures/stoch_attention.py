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


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "stoch_attention"
    c.seed = 0
    # (label, attention, kl_weight, run dir under the repo; "" = in the figure's folder)
    c.runs = (("deterministic", "deterministic", 1.0, ""),
              ("stochastic, ELBO", "stochastic", 1.0, ""),
              ("stochastic, kl_weight 0.01", "stochastic", 0.01, ""))
    c.experiment_variant = "quick"  # of configs/stoch_attention.py
    c.num_digits = 500  # test digits for the averages and draws
    c.num_samples = 64  # draws of w per digit
    c.num_shown = 20
    c.digit = 0  # index of the displayed test digit
    if arg == "full":
        c.runs = (("deterministic", "deterministic", 1.0, "runs/satt_det"),
                  ("stochastic, ELBO", "stochastic", 1.0, "runs/satt_stoch"),
                  ("stochastic, kl_weight 0.01", "stochastic", 0.01, "runs/satt_stoch_kl001"))
        c.experiment_variant = "default"
    if arg == "quick":
        c.runs = (("deterministic", "deterministic", 1.0, ""),
                  ("stochastic, ELBO", "stochastic", 1.0, ""))
        c.num_digits = 200
        c.num_samples = 32
    return c
