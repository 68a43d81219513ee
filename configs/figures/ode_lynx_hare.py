"""Figure: Lotka-Volterra VI posterior predictive and rates (ODE inference experiment).

    python -m experiments.figures --only=ode_lynx_hare   (about 1.5 minutes on 2 cores)
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "ode_lynx_hare"
    c.variant = "quick" if arg == "quick" else "default"  # of configs/ode_inference.py
    c.num_steps = 150 if arg == "quick" else 1500  # converged by ~1000 steps
    c.num_draws = 100 if arg == "quick" else 1000
    c.seed = 0
    return c
