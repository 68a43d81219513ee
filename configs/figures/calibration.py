"""Uncertainty calibration of a (mu, sigma) regressor: expected squared error vs likelihood/ELBO.

    python -m experiments.figures --only=calibration

Heteroscedastic 1-D regression with known noise s(x) = 0.05 + 0.25 (1 + x); an MLP (two tanh
layers) predicting (mu, log sigma) is trained full batch with Adam on the expected squared
error E[(mu + sigma eps - y)^2] (one reparameterized draw) and on the Gaussian likelihood; and
a mean-field Bayesian network of the same shape (``bnn_hidden`` units, local
reparameterization, prior N(0, prior_std^2)) on the ELBO with its KL term. The figure shows
the predictive std against s(x), mean sigma during training, and the reliability plot
(coverage of the central predictive interval vs nominal). Expected: sigma -> 0 under the
squared error; median predictive std / s within ~10% and coverage within ~0.03 of nominal under
the likelihood and the ELBO. About a minute of CPU on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "calibration"
    c.seed = 0
    c.hidden = 64
    c.num_train = 2000
    c.num_test = 5000
    c.num_steps = 3000
    c.lr = 3e-3
    c.bnn_hidden = 32
    c.bnn_num_steps = 3000
    c.bnn_lr = 3e-3
    c.bnn_init_log_std = -3.0
    c.prior_std = 1.0
    c.num_pred_samples = 64
    if variant == "quick":
        c.hidden = 32
        c.num_steps = 1500
        c.num_test = 4000
        c.bnn_hidden = 16
        c.bnn_num_steps = 600  # compiling dominates; fewer, larger steps keep the test cheap
        c.bnn_lr = 1e-2
        c.num_pred_samples = 32
    return c
