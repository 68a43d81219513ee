"""Figure: counterfactual estimates vs truth and ATEs (causal experiment).

    python -m experiments.figures --only=causal_counterfactuals   (about 45 s on 2 cores)
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "causal_counterfactuals"
    c.variant = "quick" if arg == "quick" else "default"  # of configs/causal.py
    return c
