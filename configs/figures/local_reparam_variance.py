"""Gradient variance of the three Bayesian-layer estimators vs the posterior std.

    python -m experiments.figures --only=local_reparam_variance

A Bayesian MLP 784-64-10 on 2000 MNIST digits at initialisation, every weight's posterior std
set to s in {e^-5, ..., e^-1}; variance of the top layer's gradient over 64 (minibatch of
50, noise) draws for local reparameterization, one weight sample per example and one per
minibatch. Expected: local <= per example < per minibatch, gaps growing with s (quick, two
values of s, measured: log-std gradient 3.7e-6 < 3.7e-5 < 1.3e-4 at s = 0.135). Compiling the
three gradient programs dominates the runtime (11 minutes wall for quick on the overloaded
shared machine; about a minute of CPU).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "local_reparam_variance"
    c.seed = 0
    # (experiment config, overrides): the task whose initial parameters are measured (no run).
    c.experiment = ("configs/bayes_mlp.py:quick",
                    {"model.hidden": (64,), "data.max_train": 2000, "batch_size": 50})
    c.log_stds = (-5.0, -4.0, -3.0, -2.0, -1.0)
    c.draws = 64
    if "quick" in variant:
        c.log_stds = (-4.0, -2.0)
    return c
