"""Figure: gradient variance vs censored fraction on Rossi subsets (survival experiment).

    python -m experiments.figures --only=survival_censoring   (about 15 s on 2 cores)
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "survival_censoring"
    c.seed = 0
    c.n = 100  # subjects per subset (<= 114 failures, so f = 0 is possible)
    c.fractions = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    c.num_keys = 2000
    if "quick" in variant:
        c.fractions = (0.0, 0.2, 0.8)
        c.num_keys = 500
    return c
