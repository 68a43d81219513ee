"""Structural causal model with reparameterized noise; counterfactuals and treatment effects.

Launch:
    python -m experiments.main --config=configs/causal.py --workdir=runs/causal
Fits the outcome mechanism of a known SCM (confounded binary treatment, treatment-dependent
noise scale) to 4000 observational units by pathwise gradients of the energy score, then
answers counterfactual queries on 2000 fresh units by abduction-action-prediction. Measured:
counterfactual RMSE 0.032 (0.79 when predicting the mean outcome without abduction), ATE
2.055 against the true 2.008, while the naive difference in means is confounded (3.18).
About 40 seconds on a 2-core CPU. Variants: ``default``, ``quick`` (the smoke test, seconds).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "causal"
    c.variant = str(variant)
    c.num_train = 4000
    c.num_test = 2000
    c.data_seed = 0
    c.num_samples = 16  # model outcomes per unit and step (two sets for the energy score)
    c.batch_size = 256
    c.num_steps = 3000
    c.log_every = 250
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.optim.lr = 0.03
    c.optim.schedule = "cosine"
    c.scm = ml_collections.ConfigDict()
    c.scm.confounding = 1.5  # a in T = 1{a Z + U_t > 0}
    c.scm.c = (1.0, 2.0, 1.5, -0.8)  # f(t, z) = c0 + c1 t + c2 z + c3 t z
    c.scm.g = (-0.7, 0.7)  # s(t) = exp(g0 + g1 t): 0.50 untreated, 1.0 treated
    if "quick" in variant:
        c.num_train = 1000
        c.num_test = 500
        c.num_steps = 200
        c.log_every = 100
        c.eval_every = 200
        c.checkpoint_every = 200
    return c
