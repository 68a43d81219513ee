"""Principle 10: VAE ELBO with pathwise vs score-function gradients on the same budget.

    python -m experiments.figures --only=principles_vae
Trains configs/vae.py:quick (784-64-8 VAE on 2048 MNIST digits, batch 32, Adam 1e-3) three
times in the figure's folder -- pathwise, score function without a baseline, score function
with a moving-average baseline -- for the same number of steps, and plots the logged training
bound and the final test ELBO. About 1-2 minutes on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")
# (estimator, baseline, legend label) of the three runs.
ESTIMATORS = (("pathwise", "none", "pathwise"),
              ("score_function", "none", "score function, baseline: none"),
              ("score_function", "moving_average", "score function, baseline: moving_average"))


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_vae"
    c.num_steps = 150 if "quick" in variant else 600
    log_every = 25 if "quick" in variant else 50
    # (name, experiment config, overrides): the same budget for every estimator.
    c.runs = tuple((f"{est}_{baseline}", "configs/vae.py:quick",
                    {"estimator": est, "baseline": baseline, "num_steps": c.num_steps,
                     "log_every": log_every, "eval_every": c.num_steps,
                     "checkpoint_every": c.num_steps}) for est, baseline, _ in ESTIMATORS)
    c.labels = tuple(label for *_, label in ESTIMATORS)
    return c
