"""Principles 5-6: pathwise vs score-function variance for quadratic and linear costs.

    python -m experiments.figures --only=principles_variance
Single-sample variance of d/dmu (and d/dsigma) E[f(x)], x ~ N(mu, sigma^2), on a log grid
sigma = 1e-2..10: closed forms from rgrad.diagnostics as lines, MC variances (± 1 SE) as
points. Quadratic f = (x - k)^2: score-function variance of d/dmu ~ (mu-k)^4 / sigma^2 blows
up as sigma -> 0, pathwise 4 sigma^2 goes to 0. Linear f = a x: pathwise d/dmu is the
constant a (variance exactly 0). About 10 s on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_variance"
    c.seed = 0
    c.mu = 1.0
    c.k = 0.0  # quadratic target
    c.a = 2.0  # linear slope
    c.log10_sigma = (-2.0, 1.0)
    c.num_sigma = 13
    c.num_samples = 20000  # per sigma and estimator
    if "quick" in variant:
        c.num_sigma = 7
        c.num_samples = 5000
    return c
