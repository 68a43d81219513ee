"""Uncertainty calibration of a (mu, sigma) regressor, one loss per run.

Launch:
    python -m experiments.main --config=configs/calibration.py --workdir=runs/calib_nll
    python -m experiments.main --config=configs/calibration.py --config.loss=expected_sq_error \
        --workdir=runs/calib_sq
    python -m experiments.main --config=configs/calibration.py:bnn --workdir=runs/calib_bnn
Heteroscedastic 1-D regression with known noise s(x) = 0.05 + 0.25 (1 + x), 2000 training
points, full batch, Adam. ``loss``: ``gaussian_nll`` | ``expected_sq_error`` (an MLP with two
tanh layers of ``model.hidden`` units predicting (mu, log sigma)) | ``bnn_elbo`` (the same
network with mean-field Gaussian weights, local reparameterization, prior N(0, prior_std^2)).
The final evaluation reports the coverage of the central predictive interval at each level
(``coverage_p90`` ...), the largest calibration error, the median predictive std over s(x) and
the RMSE on ``eval.num_test`` fresh points. The figure ``calibration`` trains the three losses.
Variants: ``default`` (3000 steps; 64 units), ``bnn`` (the ELBO, 32 units, 3000 steps),
``quick`` and ``bnn_quick`` = ``bnn,quick`` (the figure's quick sizes; seconds each).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "bnn", "quick", "bnn_quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, aliases={"bnn_quick": ("bnn", "quick")})
    c = base.get_config()
    c.experiment = "calibration"
    c.variant = str(variant)
    c.loss = "gaussian_nll"  # expected_sq_error | gaussian_nll | bnn_elbo
    c.data_seed = 0  # the training and test data (the same for every loss and member)
    c.num_train = 2000
    c.batch_size = 2000  # full batch
    c.num_steps = 3000
    c.log_every = 10  # the figure plots the mean predicted sigma during training
    c.eval_every = 3000
    c.checkpoint_every = 3000
    c.optim.lr = 3e-3
    c.prior_std = 1.0

    c.model = ml_collections.ConfigDict()
    c.model.hidden = 64
    c.model.init_log_std = -3.0  # initial posterior log-std of the Bayesian weights

    c.eval = ml_collections.ConfigDict()
    c.eval.num_test = 5000
    c.eval.num_pred_samples = 64  # weight draws of the Bayesian predictive mixture

    if "bnn" in variant:
        c.loss = "bnn_elbo"
        c.model.hidden = 32
    if "quick" in variant and "bnn" in variant:  # bnn_quick
        c.model.hidden = 16
        c.num_steps = 600  # compiling dominates; fewer, larger steps keep the test cheap
        c.optim.lr = 1e-2
    elif "quick" in variant:
        c.model.hidden = 32
        c.num_steps = 1500
    if "quick" in variant:
        c.eval_every = c.checkpoint_every = c.num_steps
        c.eval.num_test = 4000
        c.eval.num_pred_samples = 32
    return c
