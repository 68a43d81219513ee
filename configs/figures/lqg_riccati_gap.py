"""LQG: gap to the Riccati optimum against rollouts used, pathwise vs score function.

    python -m experiments.figures --only=lqg_riccati_gap
Trains configs/lqg.py (default, score_function, score_function_b256; 2 seeds each) in the
figure's folder and plots the logged ``riccati_gap``. About a minute on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "lqg_riccati_gap"
    names, steps, seeds = ("default", "score_function", "score_function_b256"), 1000, 2
    if "quick" in variant:
        names, steps, seeds = ("default", "score_function"), 60, 1
    # (name, experiment config, overrides): one run per configs/lqg.py variant, same budget.
    c.runs = tuple((n, f"configs/lqg.py:{n}",
                    {"num_steps": steps, "num_seeds": seeds, "eval_every": steps,
                     "checkpoint_every": steps}) for n in names)
    return c
