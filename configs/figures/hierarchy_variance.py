"""Pathwise gradient variance through a linear-Gaussian hierarchy: closed form vs Monte Carlo.

    python -m experiments.figures --only=hierarchy_variance

z2 = mu2 + s2 eps2, z1 = a z2 + c + s1 eps1, f = (z1 - k)^2
(experiments/analytic/linear_hierarchy.py).
Left: the variance of the one-sample upper-layer gradient d f/d mu2, relative to the 4 s2^2 it
would have if the cost acted on z2 directly, against |a| for several lower-layer noise scales
s1 (closed form 4 a^2 (a^2 s2^2 + s1^2) / (4 s2^2)). Right: all five gradients' variances
against s1 at fixed a. MC points (``num_samples`` draws each) with +-2 SE bars. Seconds.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "hierarchy_variance"
    c.mu2 = 0.5
    c.s2 = 0.5
    c.c = 0.0
    c.k = 1.0
    c.a_grid = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
    c.s1_values = (0.0, 0.5, 2.0)
    c.a_fixed = 2.0
    c.s1_grid = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
    c.num_samples = 100_000
    c.seed = 0
    if "quick" in variant:
        c.num_samples = 20_000
    return c
