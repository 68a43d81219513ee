"""Figure: Lotka-Volterra VI posterior predictive and rates (ODE inference experiment).

    python -m experiments.figures --only=ode_lynx_hare   (about 1.5 minutes on 2 cores)
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "ode_lynx_hare"
    steps = 150 if "quick" in variant else 1500  # converged by ~1000 steps
    # (name, experiment config, overrides): trained in the figure's folder.
    c.runs = (("ode", f"configs/ode_inference.py:{variant}",
               {"num_steps": steps, "eval_every": steps, "checkpoint_every": steps,
                "artifacts": False}),)
    c.num_draws = 100 if "quick" in variant else 1000
    c.seed = 0
    return c
