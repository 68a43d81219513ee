"""Principle 10: VAE ELBO with pathwise vs score-function gradients on the same budget.

    python -m experiments.figures --only=principles_vae
Trains configs/vae.py:quick (784-64-8 VAE on 2048 MNIST digits, batch 32, Adam 1e-3) three
times in the figure's folder -- pathwise, score function without a baseline, score function
with a moving-average baseline -- for the same number of steps, and plots the logged training
bound and the final test ELBO. About 1-2 minutes on 2 cores.
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "principles_vae"
    c.estimators = (("pathwise", "none"), ("score_function", "none"),
                    ("score_function", "moving_average"))
    c.num_steps = 600
    c.log_every = 50
    if arg == "quick":
        c.num_steps = 150
        c.log_every = 25
    return c
