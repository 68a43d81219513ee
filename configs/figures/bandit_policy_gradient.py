"""Pathwise vs score-function policy gradients of a Gaussian policy, quadratic reward.

    python -m experiments.figures --only=bandit_policy_gradient
Closed-form variances (lines) and MC estimates (points, +-2 SE) across sigma at d = mu - a* = 1;
the score-function / pathwise variance ratio follows its closed form. Seconds on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "bandit_policy_gradient"
    c.mu = 1.0
    c.a_star = 0.0
    c.sigmas = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)
    c.num_samples = 200_000
    c.seed = 0
    if "quick" in variant:
        c.sigmas = (0.1, 0.5, 2.0)
        c.num_samples = 50_000
    return c
