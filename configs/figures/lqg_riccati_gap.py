"""LQG: gap to the Riccati optimum against rollouts used, pathwise vs score function.

    python -m experiments.figures --only=lqg_riccati_gap
Trains configs/lqg.py (default, score_function, score_function_b256; 2 seeds each) in the
figure's folder and plots the logged ``riccati_gap``. About a minute on 2 cores.
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "lqg_riccati_gap"
    c.variants = ("default", "score_function", "score_function_b256")
    c.num_steps = 1000
    c.num_seeds = 2
    if arg == "quick":
        c.variants = ("default", "score_function")
        c.num_steps = 60
        c.num_seeds = 1
    return c
