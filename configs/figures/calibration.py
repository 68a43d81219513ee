"""Uncertainty calibration of a (mu, sigma) regressor: expected squared error vs likelihood/ELBO.

    python -m experiments.figures --only=calibration

Heteroscedastic 1-D regression with known noise s(x) = 0.05 + 0.25 (1 + x); an MLP (two tanh
layers) predicting (mu, log sigma) is trained full batch with Adam on the expected squared
error E[(mu + sigma eps - y)^2] (one reparameterized draw) and on the Gaussian likelihood; and
a mean-field Bayesian network of the same shape (local reparameterization, prior N(0, 1)) on
the ELBO with its KL term: three runs of ``configs/calibration.py`` through the shared loop
(trained inside the figure's folder; rerunning re-plots them). The figure shows the predictive
std against s(x), mean sigma during training, and the reliability plot (coverage of the central
predictive interval vs nominal). Expected: sigma -> 0 under the squared error; median
predictive std / s within ~10% and coverage within ~0.03 of nominal under the likelihood and
the ELBO. About a minute of CPU on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "calibration"
    point, bnn = ("quick", "bnn_quick") if "quick" in variant else ("default", "bnn")
    # (name = the loss, experiment config, overrides): one run per loss, in the figure's folder.
    c.runs = (("expected_sq_error", f"configs/calibration.py:{point}",
               {"loss": "expected_sq_error"}),
              ("gaussian_nll", f"configs/calibration.py:{point}", {"loss": "gaussian_nll"}),
              ("bnn_elbo", f"configs/calibration.py:{bnn}", {}))
    c.grid_seed = 2  # weight draws of the Bayesian predictive on the plotting grid
    return c
