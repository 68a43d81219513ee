"""Bayesian MLP on MNIST: local reparameterization vs weight sampling (Kingma et al. 2015).

Launch:
    python -m experiments.main --config=configs/bayes_mlp.py --workdir=runs/bmlp_local
    python -m experiments.main --config=configs/bayes_mlp.py --config.mode=shared \
        --workdir=runs/bmlp_shared
    python -m experiments.main --config=configs/bayes_mlp.py --config.mode=per_example \
        --workdir=runs/bmlp_per_example
Reproduces, at a smaller scale, Table 1 of Kingma, Salimans & Welling (2015): the variance of
the top layer's gradient orders local reparameterization < one weight sample per example <
one weight sample per minibatch. The paper used three 1024-unit ReLU layers and 10/100
epochs; the default here is 784-256-256-10, 3 epochs, batch 100, Adam 1e-3, prior N(0, 1)
(a 2-core CPU budget). The final report gives the test accuracy, the test ELBO per example
and the top layer's gradient variance under all three estimators at the trained parameters
(measured: local test accuracy 0.972, test ELBO -8.18 nats/example; shared 0.976, -10.37;
about 1 minute of training plus 10 minutes of variance measurement on the loaded 2-core
machine; the per-example mode trains at 0.1-0.3 steps/s there, so only 200 of its steps were
run; BENCHMARKS.md).
Variants: ``default``, ``quick`` (a 64-unit net on 2000 digits, initial posterior std 0.14;
about a minute, most of it compiling the three gradient-variance programs).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "bayes_mlp"
    c.variant = str(variant)
    c.mode = "local"  # local | shared | per_example
    c.prior_std = 1.0
    c.num_epochs = 3
    c.batch_size = 100
    c.log_every = 100
    c.eval_every = 600
    c.checkpoint_every = 600

    c.data.name = "mnist"
    c.data.max_train = 0  # 0 = all

    c.model = ml_collections.ConfigDict()
    c.model.hidden = (256, 256)
    c.model.init_log_std = -4.0

    c.eval = ml_collections.ConfigDict()
    c.eval.num_examples = 0  # 0 = the whole test set
    c.eval.num_samples = 10  # weight-noise samples of the predictive
    c.eval.grad_draws = 200  # (minibatch, noise) draws per gradient-variance estimate
    c.eval.map_batch = 10

    if "quick" in variant:
        c.num_epochs = 0
        c.num_steps = 40
        c.batch_size = 50
        c.log_every = 20
        c.eval_every = 40
        c.checkpoint_every = 40
        c.data.max_train = 2000
        c.model.hidden = (64,)
        # A wider initial posterior (s = 0.14) so that the weight noise, not the minibatch,
        # dominates the gradient noise and the estimators' ordering shows after 40 steps.
        c.model.init_log_std = -2.0
        c.eval.num_examples = 500
        c.eval.num_samples = 4
        c.eval.grad_draws = 64
    return c
