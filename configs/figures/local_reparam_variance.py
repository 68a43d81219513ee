"""Gradient variance of the three Bayesian-layer estimators vs the posterior std.

    python -m experiments.figures --only=local_reparam_variance

A Bayesian MLP 784-100-10 on 5000 MNIST digits at initialisation, every weight's posterior std
set to s in {e^-5, ..., e^-1}; variance of the top layer's gradient over 128 (minibatch of
100, noise) draws for local reparameterization, one weight sample per example and one per
minibatch. Expected: local <= per example < per minibatch, gaps growing with s. About a
minute on 2 cores, mostly compiling.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "local_reparam_variance"
    c.seed = 0
    c.hidden = (100,)
    c.max_train = 5000
    c.batch_size = 100
    c.log_stds = (-5.0, -4.0, -3.0, -2.0, -1.0)
    c.draws = 128
    if variant == "quick":
        c.hidden = (64,)
        c.max_train = 2000
        c.batch_size = 50
        c.log_stds = (-4.0, -2.0)
        c.draws = 64
    return c
