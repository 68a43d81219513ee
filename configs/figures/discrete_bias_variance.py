"""Bias and variance of relaxed discrete gradients against the temperature, by exact enumeration.

    python -m experiments.figures --only=discrete_bias_variance
A categorical-VAE-sized decoder term: L = 3 categorical latents of K = 10 classes (as in the
categorical VAE) through a fixed random linear Bernoulli decoder to 784 pixels; the exact
gradient of E_q[log p(x|z)] w.r.t. the encoder logits sums the 10^3 configurations. On a log
grid of tau: squared bias and variance (trace) of the Gumbel-Softmax and straight-through
estimators, Gumbel-Rao (rao_samples conditional Gumbels) and ReinMax; REBAR at lambda = tau,
RELAX with its control variate trained by its variance loss (cv_steps Adam steps of cv_batch
draws) and the score function as unbiased references. The claim: GS's bias grows and its
variance falls with tau; Gumbel-Rao has ST-GS's bias with less variance; the references are
unbiased. About a minute on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "discrete_bias_variance"
    c.num_latent = 3
    c.num_classes = 10
    c.num_pixels = 784
    c.decoder_scale = 0.3
    c.taus = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
    c.num_draws = 20_000
    c.num_groups = 20  # batches of draws for the standard errors
    c.rao_samples = 10  # Gumbel-Rao's conditional draws per sample (the paper's default)
    c.relax_hidden = 16  # units of RELAX's control-variate network
    c.cv_steps = 300
    c.cv_batch = 32
    c.cv_lr = 0.03
    c.seed = 0
    if "quick" in variant:
        c.taus = (0.01, 0.1, 1.0, 10.0)
        c.num_draws = 4000
    return c
