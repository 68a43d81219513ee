"""Figure: counterfactual estimates vs truth and ATEs (causal experiment).

    python -m experiments.figures --only=causal_counterfactuals   (about 45 s on 2 cores)
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "causal_counterfactuals"
    # (name, experiment config, overrides): trained in the figure's folder.
    c.runs = (("causal", f"configs/causal.py:{variant}", {"artifacts": False}),)
    return c
