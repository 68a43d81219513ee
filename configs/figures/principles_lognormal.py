"""Principle 9: the exponential map z = exp(mu + sigma eps) explodes gradients.

    python -m experiments.figures --only=principles_lognormal
Problem: fit E[(z - y)^2] -> min over mu (sigma fixed) with y = 50, by SGD on one-sample
pathwise gradients from mu = 0, once with the log-normal z = exp(mu + sigma eps) and once
with the linear Gaussian z = mu + sigma eps. Panels: (a) |d/dmu E| against mu (closed form
and MC), exponential vs linear; (b) the gradient norm during training at one learning rate;
(c) final error against the learning rate. About 10 s on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_lognormal"
    c.seed = 0
    c.target = 50.0
    c.sigma = 0.5
    c.num_samples = 4000  # (a): MC samples per mu
    c.lr = 0.02  # (b)
    c.num_steps = 300
    c.num_seeds = 16
    c.log10_lr = (-5.0, -0.5)  # (c)
    c.num_lr = 10
    if "quick" in variant:
        c.num_samples = 1000
        c.num_seeds = 8
        c.num_lr = 6
    return c
