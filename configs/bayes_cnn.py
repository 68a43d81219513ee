"""Bayesian CNN on MNIST: top-layer gradient variance of the three estimators (conv case).

Launch:
    python -m experiments.main --config=configs/bayes_cnn.py --workdir=runs/bcnn_local
    python -m experiments.tools.bayes_variance_table --config=configs/bayes_cnn.py \
        --workdirs=local=runs/bcnn_local
The second command measures the variance of the top layer's gradient under local
reparameterization, one weight sample per example and one per minibatch, at initialisation and
at the trained parameters (Kingma, Salimans & Welling 2015, Table 1, for a convolutional net).
Network: conv 5x5/2 (8) - conv 5x5/2 (16) - dense 10, every weight Bayesian, prior N(0, 1),
initial posterior std e^-2; Adam 1e-3, batch 100, 1 epoch (a short training); 64 gradient
draws per variance.
Expected: log-std gradient variance local < per example < shared, the mean's gradient
local ~ per example < shared (numbers and runtime in BENCHMARKS.md).
Variants: ``default``, ``quick`` (4/8 channels, 2000 digits, 40 steps; ~2 minutes of CPU,
most of it compiling the three gradient-variance programs).
"""

import ml_collections

from configs import bayes_mlp

VARIANTS = ("default", "quick")


def get_config(arg=None):
    c = bayes_mlp.get_config(arg)  # same training, evaluation and variance settings
    c.experiment = "bayes_cnn"
    if c.variant == "default":
        c.num_epochs = 1
        c.eval.grad_draws = 64
    c.model = ml_collections.ConfigDict()
    c.model.channels = (8, 16)
    c.model.init_log_std = -2.0
    if c.variant == "quick":
        c.model.channels = (4, 8)
    return c
