"""Mohamed et al. (2020, JMLR) style panel: variance of four gradient estimators.

    python -m experiments.figures --only=principles_mohamed
Single-sample variance of d/dmu and d/dsigma E_{N(mu, sigma^2)}[f(x)] for f = (x - k)^2,
exp(-k x^2), cos(k x): score function, score function with the exact baseline E f,
pathwise, and the (coupled) measure-valued estimator of rgrad.estimators; against mu at
sigma = 1 and against sigma at mu = mu_for_sigma. Lines: numerical integration (dense Gauss-Legendre
over eps and over the Rayleigh / uniform parts of the measure-valued estimator);
points: MC with ± 1 SE. About 15 s on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_mohamed"
    c.seed = 0
    c.k = (1.0, 1.0, 2.0)  # for (x - k)^2, exp(-k x^2), cos(k x)
    c.mu_range = (-3.0, 3.0)
    c.num_mu = 13
    c.sigma_at_mu = 1.0
    c.log10_sigma = (-1.0, 0.7)
    c.num_sigma = 9
    c.mu_for_sigma = 0.5
    c.num_samples = 20000
    if "quick" in variant:
        c.num_mu = 7
        c.num_sigma = 5
        c.num_samples = 5000
    return c
