"""Principles 1-4: what carries a gradient through a sample, and how fast MC averages converge.

    python -m experiments.figures --only=principles_gradients
Panels: (a) a stop-gradient sampler gives zero gradient, the reparameterized one the true
gradient; (b) inverse-transform sampling is a reparameterization (Exponential, Weibull,
Gumbel, Kumaraswamy); (c) z = mu + sigma eps: dL/dmu = dL/dz, dL/dsigma = dL/dz eps;
(d) RMSE of the N-sample pathwise average falls as 1/sqrt(N). About 10 s on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_gradients"
    c.seed = 0
    c.num_samples = 20000  # panels (a), (b): per-sample gradients averaged
    c.num_chain = 2000  # panel (c): samples checked for the chain rule
    c.num_repeats = 400  # panel (d): independent N-sample averages per N
    c.max_log2_n = 12  # panel (d): N = 1, 2, ..., 2^max_log2_n
    if "quick" in variant:
        c.num_samples = 4000
        c.num_chain = 200
        c.num_repeats = 200
        c.max_log2_n = 10
    return c
